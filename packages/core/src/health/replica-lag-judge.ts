import type { ResolvedOptions } from '../config/resolved-options.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import { lsnDistance } from './lsn.js'
import { DEFAULT_SEGMENT_SIZE } from './node-link.js'
import type { ProbeReading } from './node-probe.js'
import { WalHistory } from './wal-history.js'

type LagOptions = Pick<ResolvedOptions, 'lag' | 'healthCheck'>

/**
 * Judges a replica's lag against the primary's WAL position of the same probe round, and so its state: `up`
 * within `lag.maxBytes` and `lag.maxMs`, else `lagging`. Byte lag is `primary LSN − replay LSN`; time lag is how
 * long ago a probe first saw the primary past the replica's replay position (see {@link WalHistory}), capped by the
 * age of the last replayed commit, and 0 while the replica is not behind at all.
 */
export class ReplicaLagJudge {
  readonly #options: LagOptions
  #primaryLsn: bigint | undefined
  #history = new WalHistory()
  /**
   * Standbys without a WAL receiver: the primary's position (and timeline) in the last round in which the standby
   * missed no transaction. The WAL before it that the standby lacks holds none: its lag in time counts from there.
   */
  readonly #covered = new Map<RouterNode, { readonly lsn: bigint; readonly timeline: number | undefined }>()

  constructor(options: LagOptions) {
    this.#options = options
  }

  /** The primary's WAL position at the last successful probe. */
  get primaryLsn(): bigint | undefined {
    return this.#primaryLsn
  }

  /** A probe saw the primary at `lsn` (now): the position replicas are judged against, and the lag clock. */
  primaryAt(lsn: bigint | undefined): void {
    if (lsn === undefined) return
    this.#primaryLsn = lsn
    this.#history.record(lsn, Date.now())
  }

  /** Another node's WAL (a new primary, or a replaced cluster): positions seen so far say nothing of its lag. */
  restart(): void {
    this.#history = new WalHistory()
    this.#primaryLsn = undefined
  }

  /** Forgets a node that left the router. */
  forget(node: RouterNode): void {
    this.#covered.delete(node)
  }

  /**
   * Observes `node`'s WAL figures and sets its state. `primaryReading`: the primary's reading of the same probe
   * round as `reading` (none when they were not read in one round).
   */
  judge(node: RouterNode, reading: ProbeReading, primaryReading: ProbeReading | undefined): void {
    const primaryLsn = this.#primaryLsn
    const behind = primaryLsn !== undefined && reading.lsn !== undefined && reading.lsn < primaryLsn
    // A standby without a WAL receiver (fed from the archive) that counts the same transactions as completed as the
    // primary did in the same round misses none: what it lacks is WAL without a transaction (the background
    // writer's running-transactions record of an idle primary, which archive_timeout never ships).
    const shipped = reading.inRecovery && reading.receiver === false
    const sameSnapshot = reading.snapshot !== undefined && primaryReading?.snapshot === reading.snapshot
    const missesNone = shipped && behind && sameSnapshot
    if (missesNone) this.#covered.set(node, { lsn: primaryLsn!, timeline: reading.timeline })
    else if (!shipped) this.#covered.delete(node)
    // Lag in time from the first position it lacks a transaction before: after an idle spell, the idle record it
    // never got is not the oldest WAL it misses once writes resume.
    const covered = this.#covered.get(node)
    const from =
      covered !== undefined &&
      covered.timeline === reading.timeline &&
      reading.lsn !== undefined &&
      covered.lsn > reading.lsn
        ? covered.lsn
        : reading.lsn
    node.observe({
      timeline: reading.timeline,
      lsn: reading.lsn,
      receiveLsn: reading.receiveLsn,
      lagBytes:
        primaryLsn !== undefined && reading.lsn !== undefined ? lsnDistance(reading.lsn, primaryLsn) : 0,
      lagSeconds:
        behind && !missesNone
          ? this.#secondsBehind(from!, from === reading.lsn ? reading.replayAgeSeconds : undefined)
          : 0,
    })
    const { maxBytes, maxMs } = this.#options.lag
    // Log shipping holds back, by design, the segment the primary is writing and one closed segment on its way
    // through the archive: most of a segment closed by archive_timeout is padding, not WAL the standby lacks.
    const allowance =
      shipped && primaryLsn !== undefined ? shippingAllowance(primaryLsn, reading.segmentSize) : 0
    if (reading.lsn === undefined) {
      node.setState('lagging', 'has not replayed any WAL yet')
    } else if (node.lagBytes - allowance > maxBytes) {
      const beyond = allowance > 0 ? ` beyond the ${allowance} bytes log shipping holds back` : ''
      node.setState('lagging', `${node.lagBytes} bytes behind${beyond} (lag.maxBytes ${maxBytes})`)
    } else if (node.lagSeconds * 1000 > maxMs) {
      node.setState('lagging', `${node.lagSeconds.toFixed(1)} s behind (lag.maxMs ${maxMs})`)
    } else {
      const caughtUp = node.state === 'lagging' || node.state === 'fenced'
      node.setState('up', caughtUp ? 'caught up' : 'reachable and within lag bounds')
    }
  }

  /** Keeps the history only as far back as the replica furthest behind needs it. */
  forgetReplayedHistory(nodes: NodeSet): void {
    let oldest: bigint | undefined
    for (const node of nodes.all) {
      if (node.role !== 'replica' || node.state === 'fenced' || node.lsn === undefined) continue
      if (node.timeline !== undefined && node.timeline !== nodes.timeline) continue
      if (oldest === undefined || node.lsn < oldest) oldest = node.lsn
    }
    if (oldest !== undefined) this.#history.forgetUpTo(oldest)
  }

  /**
   * Age of the oldest WAL a replica that replayed up to `replayed` is missing. The history gives it to within one
   * interval; the age of the last replayed commit bounds it from above and stands in when the history cannot tell
   * (the primary was already past `replayed` at the first probe).
   */
  #secondsBehind(replayed: bigint, replayAgeSeconds: number | undefined): number {
    const now = Date.now()
    const seenAt = this.#history.firstSeenPast(replayed)
    let sinceSeen = seenAt === undefined ? undefined : (now - seenAt) / 1000
    // Probes further apart than one interval (the router was idle): the WAL may be as old as the probe before,
    // less one interval, so that the figure stays exact to within one interval as when probes are regular.
    const before = seenAt === undefined ? undefined : this.#history.lastSeenAtOrBefore(replayed)
    if (sinceSeen !== undefined && before !== undefined) {
      sinceSeen = Math.max(sinceSeen, (now - before - this.#options.healthCheck.intervalMs) / 1000)
    }
    const seconds =
      sinceSeen === undefined
        ? (replayAgeSeconds ?? 0)
        : replayAgeSeconds === undefined
          ? sinceSeen
          : Math.min(sinceSeen, replayAgeSeconds)
    return Math.max(0, seconds)
  }
}

/**
 * What log shipping holds back by design from a standby fed from the archive, with the primary at `primaryLsn`:
 * the part of the segment the primary is writing, and one whole segment closed and on its way through the archive.
 */
function shippingAllowance(primaryLsn: bigint, segmentSize: number | undefined): number {
  const size = BigInt(segmentSize ?? DEFAULT_SEGMENT_SIZE)
  return Number((primaryLsn % size) + size)
}
