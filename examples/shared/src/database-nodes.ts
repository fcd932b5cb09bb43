import { type Cluster, startCluster } from '@pgroute/cluster'
import type { ReplicaInput } from '@pgroute/core'

/** Where the app's database is: given URLs, or a local cluster started for it. */
export interface DatabaseNodes {
  readonly primary: string
  readonly replicas: readonly ReplicaInput[]
  /** Set when the nodes were started here: stop it on shutdown. */
  readonly cluster: Cluster | undefined
}

/**
 * Reads `PGROUTE_PRIMARY_URL` and `PGROUTE_REPLICA_URLS` (comma-separated). Without them, starts a local
 * primary and two replicas, the second replaying WAL 2 s late, so read-your-writes has something to prove.
 */
export async function databaseNodes(
  options: { readonly env?: NodeJS.ProcessEnv; readonly signal?: AbortSignal } = {},
): Promise<DatabaseNodes> {
  const { env = process.env, signal } = options
  const primary = env.PGROUTE_PRIMARY_URL?.trim()
  if (primary) {
    const replicas = (env.PGROUTE_REPLICA_URLS ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter(Boolean)
    return { primary, replicas, cluster: undefined }
  }
  const cluster = await startCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }], signal })
  return {
    primary: cluster.primary.url,
    replicas: cluster.replicas.map((node) => ({ name: node.name, connectionString: node.url })),
    cluster,
  }
}
