import type { Cluster } from './cluster-node.js'
import type { StartClusterOptions } from './cluster-options.js'
import { startDockerCluster } from './docker-cluster.js'
import { startEmbeddedCluster } from './embedded-cluster.js'
import { resolveClusterOptions } from './resolve-options.js'

/**
 * Starts a real PostgreSQL streaming-replication cluster on loopback: one primary and `replicas` hot standbys, each
 * streaming WAL through its own physical replication slot. Resolves when every replica streams. Stop it with
 * `cluster.stop()`; servers are also stopped when the process exits or receives SIGINT/SIGTERM/SIGHUP.
 *
 * @example
 * ```ts
 * import { startCluster } from '@pgroute/cluster'
 *
 * const cluster = await startCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
 * await cluster.primary.query('CREATE TABLE t (id int)')
 * await cluster.waitForReplication()
 * console.log(cluster.replicas[0].url) // postgres://postgres:<password>@127.0.0.1:<port>/postgres
 * await cluster.stop()
 * ```
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const resolved = resolveClusterOptions(options)
  return resolved.backend === 'docker' ? startDockerCluster(resolved) : startEmbeddedCluster(resolved)
}
