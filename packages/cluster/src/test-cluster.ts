import type { Cluster } from './cluster-node.js'
import type { StartClusterOptions } from './cluster-options.js'
import { clusterFromEnv } from './external-cluster.js'
import { startCluster } from './start-cluster.js'

/**
 * For test suites that run locally and against an external cluster: returns {@link clusterFromEnv} when
 * `PGROUTE_PRIMARY_URL` is set (then `options` are ignored and `cluster.controllable` is false, so tests that stop,
 * pause or promote nodes should skip), otherwise starts a local cluster with `options`.
 *
 * @example
 * ```ts
 * let cluster: Cluster
 * beforeAll(async () => { cluster = await startTestCluster({ replicas: 2 }) })
 * afterAll(() => cluster.stop())
 * it('fails over', async (context) => {
 *   if (!cluster.controllable) context.skip()
 *   // ...
 * })
 * ```
 */
export async function startTestCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  return clusterFromEnv() ?? startCluster(options)
}
