import type { Cluster } from '../cluster-node.js'

/**
 * Health-check settings that make state changes show up within a second or two, with a probe timeout large enough
 * for a busy machine: one probe slower than `timeoutMs` marks its node down (and `ready()` rejects when the re-probe
 * is slow too), which a test asserting an exact split of reads or "no node went down" must never see on a loaded
 * 2-core run. A 150 ms timeout failed with one other suite running; 450 ms failed under two CPU hogs and other
 * suites at a load average of 25.
 */
export const FAST_HEALTH = { intervalMs: 1000, timeoutMs: 900, maxBackoffMs: 500 } as const

/** The node options of a router over every node of a cluster (the shape `@pgroute/core` accepts). */
export interface ClusterRouterOptions {
  /** URL of the primary. */
  readonly primary: string
  /** One entry per replica, named after the cluster's node. */
  readonly replicas: ReadonlyArray<{ readonly name: string; readonly connectionString: string }>
  /** {@link FAST_HEALTH}. */
  readonly healthCheck: typeof FAST_HEALTH
}

/**
 * Options for `createRouter` from `@pgroute/core` over every node of `cluster`: replicas named after the
 * cluster's nodes, probing with {@link FAST_HEALTH}. `overrides` win (this package does not depend on the router,
 * so the merge is typed by the caller).
 *
 * @example
 * ```ts
 * const router = createRouter(routerOptions(cluster, { lag: { maxSeconds: 1 } }))
 * ```
 */
export function routerOptions<T extends object = object>(
  cluster: Cluster,
  overrides?: T,
): ClusterRouterOptions & T {
  return {
    primary: cluster.primary.url,
    replicas: cluster.replicas.map((replica) => ({ name: replica.name, connectionString: replica.url })),
    healthCheck: FAST_HEALTH,
    ...(overrides as T),
  }
}
