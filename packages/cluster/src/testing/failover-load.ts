import type { Cluster, ClusterNode } from '../cluster-node.js'
import { sleep } from '../sleep.js'

/** One write of {@link failoverUnderLoad}'s load: when it started, and its error if it failed. */
export interface TimedWrite {
  readonly at: number
  readonly error?: unknown
}

/** What {@link failoverUnderLoad} saw. */
export interface FailoverLoadResult {
  /** Errors of the reads, all through the run. */
  readonly readErrors: unknown[]
  /** Every write, in order. */
  readonly writes: TimedWrite[]
  /** When `promote()` returned (epoch ms). */
  readonly promotedAt: number
}

/**
 * Runs a read loop (every 5 ms) and a write loop (every 10 ms) through a client under test, promotes `promoted`
 * after 500 ms, and goes on for 4 s after the promotion: the load every ORM adapter's failover test puts on the
 * router.
 *
 * @example
 * ```ts
 * const { readErrors, writes, promotedAt } = await failoverUnderLoad(cluster, cluster.replicas[0]!, {
 *   read: () => db.selectFrom('item').selectAll().execute(),
 *   write: () => db.insertInto('item').values({ name: 'x' }).execute(),
 * })
 * ```
 */
export async function failoverUnderLoad(
  cluster: Cluster,
  promoted: ClusterNode,
  load: { readonly read: () => Promise<unknown>; readonly write: () => Promise<unknown> },
): Promise<FailoverLoadResult> {
  let stopped = false
  const readErrors: unknown[] = []
  const writes: TimedWrite[] = []
  const loops = [
    (async () => {
      while (!stopped) {
        await load.read().catch((error: unknown) => readErrors.push(error))
        await sleep(5)
      }
    })(),
    (async () => {
      while (!stopped) {
        const at = Date.now()
        await load.write().then(
          () => writes.push({ at }),
          (error: unknown) => writes.push({ at, error }),
        )
        await sleep(10)
      }
    })(),
  ]
  await sleep(500)
  await cluster.promote(promoted)
  const promotedAt = Date.now()
  await sleep(4000)
  stopped = true
  await Promise.all(loops)
  return { readErrors, writes, promotedAt }
}
