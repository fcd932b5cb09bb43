import type { RouterNode } from '../replicas/router-node.js'
import { formatLsn } from './lsn.js'
import type { ProbeReading } from './node-probe.js'
import type { SyncSnapshot } from './sync-replication.js'

/** One node's latest probe (`undefined`: it failed). */
interface Seen {
  readonly node: RouterNode
  readonly reading: ProbeReading | undefined
}

/**
 * Why a replica must serve no reads while the primary is down, or `undefined` when it may. Made by
 * {@link syncHoldback}.
 */
export type Holdback = (node: RouterNode, reading: ProbeReading) => string | undefined

/**
 * The rule for replicas while the primary is down (unreachable) and no new primary is known: a replica other than
 * the synchronous standbys that has WAL past where every synchronous standby is known to have it may hold commits
 * that were never acknowledged (the primary sent them on while the commits waited for a standby that never got
 * them). The standby promoted next does not have them: the replica serves no reads until the new primary is known
 * and the replica is judged against where its timeline forked off the new one.
 *
 * The synchronous standbys (`sync` or `quorum`) are those of `snapshot`, the primary's latest. How far each has the
 * WAL is the furthest of what its own probe read (received, flushed to its disk, or replayed) and of what the primary
 * last saw it flush: each only ever understates it, so a replica is held back whenever it may be ahead, and
 * whenever a standby's position is not known at all. Positions are compared on one timeline: with the primary
 * down, the ones the probes read no longer move.
 *
 * `undefined` (no replica held back) when `snapshot` shows no synchronous standby, or its senders could not be
 * seen (the router's role lacks `pg_read_all_stats`): then which commits were acknowledged cannot be told.
 */
export function syncHoldback(
  snapshot: SyncSnapshot | undefined,
  seen: readonly Seen[],
): Holdback | undefined {
  const standbys = (snapshot?.senders ?? []).filter((s) => s.syncState === 'sync' || s.syncState === 'quorum')
  if (standbys.length === 0) return undefined
  const names = new Set(standbys.map((s) => s.name.toLowerCase()))
  let confirmed: bigint | undefined
  let unknown: string | undefined
  for (const sender of standbys) {
    const own = seen.find(({ node, reading }) => nameOf(node, reading) === sender.name.toLowerCase())
    const position = furthest(
      sender.flushLsn,
      own?.reading?.lsn ?? own?.node.lsn,
      own?.reading?.receiveLsn ?? own?.node.receiveLsn,
    )
    if (position === undefined) unknown ??= sender.name
    else if (confirmed === undefined || position < confirmed) confirmed = position
  }
  return (node, reading) => {
    if (!reading.inRecovery || names.has(nameOf(node, reading) ?? '')) return undefined
    const has = furthest(reading.lsn, reading.receiveLsn)
    if (has === undefined) return undefined
    if (unknown !== undefined) {
      return `the primary is down and how far its synchronous standby ${unknown} has the WAL is not known: this replica may hold commits that were never acknowledged`
    }
    if (confirmed === undefined || has <= confirmed) return undefined
    return `the primary is down and this replica has WAL up to ${formatLsn(has)}, past ${formatLsn(confirmed)} where its synchronous standbys have it: it may hold commits that were never acknowledged, which the standby promoted next lacks`
  }
}

/** The name a standby gives itself on the primary (lowercased: PostgreSQL matches names regardless of case). */
function nameOf(node: RouterNode, reading: ProbeReading | undefined): string | undefined {
  return (reading?.applicationName ?? node.applicationName)?.toLowerCase()
}

function furthest(...positions: (bigint | undefined)[]): bigint | undefined {
  let max: bigint | undefined
  for (const p of positions) if (p !== undefined && (max === undefined || p > max)) max = p
  return max
}
