/**
 * The servers a scenario runs against: the embedded cluster of `@pgroute/cluster` by default, or another set of
 * loopback servers (the Patroni scenario's) with the same small surface.
 */
import type { Cluster, ClusterNode, StartClusterOptions } from '@pgroute/cluster'
import { startCluster } from '@pgroute/cluster'

/** What the runner needs of one server. */
export type ChaosNode = Pick<ClusterNode, 'name' | 'port' | 'url' | 'connectionConfig' | 'running' | 'query'>

/** A set of servers a scenario can break. */
export interface ChaosEnvironment {
  /** Every server, including any that left the topology. */
  readonly nodes: readonly ChaosNode[]
  /** The primary as configured in the router. */
  readonly primary: ChaosNode
  /** The replicas as configured in the router. */
  readonly replicas: readonly ChaosNode[]
  /** The embedded cluster, when the environment is one (scenarios that control nodes need it). */
  readonly cluster?: Cluster
  /** The node that is really the primary now (after a failover, the new one): written keys are checked there. */
  currentPrimary(): Promise<ChaosNode>
  /** Waits until every replica has replayed the primary's writes so far. */
  settle(): Promise<void>
  /** Stops every server; always called. */
  stop(): Promise<void>
}

/** Cluster settings of every embedded scenario: one primary, two replicas, few enough slots to fill quickly. */
export const chaosClusterOptions: StartClusterOptions = {
  replicas: 2,
  postgresConfig: { max_connections: 60 },
}

/** A fresh embedded cluster: 1 + 2 by default, or as `options` say. */
export async function embeddedEnvironment(
  options: StartClusterOptions = chaosClusterOptions,
): Promise<ChaosEnvironment> {
  const cluster = await startCluster(options)
  const primary = cluster.primary
  const replicas = [...cluster.replicas]
  return {
    nodes: cluster.nodes,
    primary,
    replicas,
    cluster,
    currentPrimary: async () => cluster.primary,
    settle: () => cluster.waitForReplication({ timeoutMs: 20_000 }),
    stop: async () => {
      // The servers are unref'd child processes: keep the loop alive while they shut down.
      const keepAlive = setInterval(() => {}, 1000)
      try {
        await cluster.stop()
      } finally {
        clearInterval(keepAlive)
      }
    },
  }
}
