import type { BaseNode } from './base-node.js'
import { type WaitLimits, waitForStreaming } from './replication-status.js'

/**
 * Starts the primary and its replicas and resolves once every streaming replica streams from its upstream. Replicas
 * streaming from the primary and archive-fed ones start at once; a cascading replica starts after its upstream runs
 * and holds its replication slot (in list order, so an upstream always comes first).
 */
export async function startReplicationTopology(
  primary: BaseNode,
  replicas: readonly BaseNode[],
  limits: WaitLimits,
): Promise<void> {
  const cascading = replicas.filter((node) => node.walSource === 'stream' && node.upstream !== primary)
  await Promise.all(
    [primary, ...replicas.filter((node) => !cascading.includes(node))].map((node) => node.start()),
  )
  for (const node of cascading) {
    await ensureSlot(node.upstream!, node.slot)
    await node.start()
  }
  const streaming = new Map<BaseNode, string[]>()
  for (const node of replicas) {
    if (node.walSource !== 'stream' || !node.upstream) continue
    streaming.set(node.upstream, [...(streaming.get(node.upstream) ?? []), node.name])
  }
  await Promise.all([...streaming].map(([upstream, names]) => waitForStreaming(upstream, names, limits)))
}

/** Creates a physical replication slot on `node` (a primary or a standby) unless it exists. */
export async function ensureSlot(node: BaseNode, slot: string): Promise<void> {
  await node.query(
    `SELECT pg_create_physical_replication_slot($1, true)
     WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`,
    [slot],
  )
}

/**
 * Whether `node` replays the primary's WAL as it comes: a running streaming replica whose replay is neither paused
 * nor delayed, and whose upstreams (for a cascading replica) are too, up to `primary`.
 */
export function streamsLiveFrom(primary: BaseNode, node: BaseNode): boolean {
  const seen = new Set<BaseNode>()
  for (let current: BaseNode | undefined = node; current !== primary; current = current.upstream) {
    if (
      !current ||
      seen.has(current) ||
      current.role !== 'replica' ||
      current.walSource !== 'stream' ||
      !current.running ||
      current.replayPaused ||
      current.applyDelayMs !== 0
    ) {
      return false
    }
    seen.add(current)
  }
  return true
}
