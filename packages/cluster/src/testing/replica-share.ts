import type { Cluster } from '../cluster-node.js'

/**
 * The least share of reads replicas must serve in a test that claims reads on replicas or read-your-writes on
 * replicas. "0 stale reads" alone would also hold if every read went to the primary (share 0). A replica that
 * replays at once serves 55-99 % of the session reads right after a write (lower with 8 concurrent writers on a
 * busy machine: a read that finds it a few WAL records short goes to the primary), so a quarter leaves room.
 */
export const MIN_REPLICA_SHARE = 0.25

/**
 * Share of reads answered by a replica of `cluster`: `served` holds the answering server's port per read (an
 * iterable) or a count per port (a map). Reads that could not report their server are left out.
 *
 * @example
 * ```ts
 * expect(replicaShare(ports, cluster)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
 * ```
 */
export function replicaShare(
  served: Iterable<number | undefined> | ReadonlyMap<number | undefined, number>,
  cluster: Cluster,
): number {
  const replicas = new Set(cluster.replicas.map((replica) => replica.port))
  const counts: Iterable<readonly [number | undefined, number]> =
    served instanceof Map
      ? served
      : [...(served as Iterable<number | undefined>)].map((port) => [port, 1] as const)
  let total = 0
  let byReplicas = 0
  for (const [port, count] of counts) {
    if (port === undefined) continue
    total += count
    if (replicas.has(port)) byReplicas += count
  }
  return total === 0 ? 0 : byReplicas / total
}
