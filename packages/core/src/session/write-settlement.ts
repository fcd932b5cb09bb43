import type { Outcome } from '../errors.js'
import { PgRouteError } from '../errors.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import { formatLsn, type WalPosition } from '../health/lsn.js'
import type { ReplicaSet } from '../replicas/replica-set.js'
import type { SessionWrite, Settled } from './causal-session.js'
import type { PositionLookups } from './position-lookups.js'

/** A settled position, with the bound before the write it came from (when it came from one). */
interface SettledPosition extends WalPosition {
  readonly lower?: bigint | undefined
}

/** Where a write or a token stands on the current timeline, and the error of its loss. */
interface Placed {
  readonly position: SettledPosition
  readonly lost?: PgRouteError
}

/**
 * Where a session's writes, and the tokens it continues from, stand on the cluster's current timeline: the
 * position its reads must see, and the writes a failover lost (`PGROUTE_WRITES_LOST`). Positions are compared
 * only on the same timeline; a position of a timeline that has ended is compared with where that timeline ended
 * (its switch point, {@link HealthMonitor.timelineEnd}).
 */
export class WriteSettlement {
  readonly #replicas: ReplicaSet
  readonly #monitor: HealthMonitor
  readonly #lookups: PositionLookups

  constructor(replicas: ReplicaSet, monitor: HealthMonitor, lookups: PositionLookups) {
    this.#replicas = replicas
    this.#monitor = monitor
    this.#lookups = lookups
  }

  /**
   * Settles a session's writes and its floor: where each write landed, and whether it is on the cluster's current
   * timeline. A position of the current timeline stands. A position of a timeline that has ended is compared with
   * where that timeline ended: at or before it, the write is on the current timeline too (the same position stands
   * there); past it, it was lost with the old timeline, and the session is told (`PGROUTE_WRITES_LOST`), `unknown`
   * when the write completed within a round trip of the switch point (its `lower` bound is before it). Without a
   * readable switch point (no privilege) a position stands on the current timeline: nothing is reported, and reads
   * never pin the primary for it.
   *
   * A write whose position could not be read after it (its node failed at once) is placed by its `lower` bound when
   * its timeline has ended, else by the current primary's position (which covers it).
   */
  readonly settle = async (
    writes: readonly SessionWrite[],
    floor: WalPosition | undefined,
  ): Promise<Settled> => {
    let settled: WalPosition | undefined
    let lost: PgRouteError | undefined
    const take = ({ position, lost: loss }: Placed) => {
      settled = later(settled, position)
      // A certain loss says more than a possible one.
      if (loss !== undefined && (lost === undefined || lost.outcome === 'unknown')) lost = loss
    }
    if (floor !== undefined) take(await this.#placed(floor, (floor as SettledPosition).lower, 'write'))
    for (const write of writes) {
      const upper = await write.upper
      if (upper !== undefined) {
        const position = { lsn: upper.lsn, timeline: upper.timeline ?? write.timeline }
        take(await this.#placed(position, write.lower, 'write'))
      } else take(await this.#untracked(write))
    }
    return { floor: settled, lost }
  }

  /**
   * A token's position, verified before any read relies on it: tokens are untrusted input, and a token must never
   * send the session's reads to the primary unless the session's own writes need it.
   * - `0/0` asks for nothing.
   * - A position of an older timeline is compared with where that timeline ended: at or before the switch point it
   *   is part of the current timeline's history, and stands as the same position on the current timeline; past it,
   *   the writes it stands for were lost, and the session fails with `PGROUTE_WRITES_LOST`. When the switch point
   *   cannot be read (no privilege), it stands on the current timeline: reads may then miss a lost write, but
   *   never pin the primary.
   * - A position without a timeline (a bare LSN) stands on the current timeline.
   * - On the current timeline, it is believed up to what the primary is known to have reached (its last probe, or
   *   a replica that received that far); beyond it, the primary is asked. A position the primary has not reached
   *   cannot come from a real token: it is clamped to the furthest position a replica of the primary's timeline
   *   has replayed (a position the primary did reach), so a forged token can neither pin a session to the primary
   *   nor hold reads waiting.
   */
  async verify(claim: WalPosition): Promise<WalPosition | undefined> {
    if (claim.lsn === 0n) return undefined
    let timeline = this.#replicas.timeline
    let position: WalPosition =
      claim.timeline === undefined ? { lsn: claim.lsn, timeline: timeline || undefined } : claim
    if (claim.timeline !== undefined && timeline > 0 && claim.timeline < timeline) {
      const placed = await this.#placed(claim, undefined, 'token')
      if (placed.lost !== undefined) throw placed.lost
      position = placed.position
    }
    let known = this.#monitor.primaryLsn ?? 0n
    let replayed = 0n
    for (const replica of this.#replicas.all) {
      if (replica.timeline !== timeline || replica.servers.problem !== undefined) continue
      if (replica.receiveLsn !== undefined && replica.receiveLsn > known) known = replica.receiveLsn
      if (replica.lsn !== undefined && replica.lsn > replayed) replayed = replica.lsn
    }
    if (position.lsn <= known && position.timeline !== undefined && position.timeline <= timeline)
      return position
    const primary = await this.#lookups.primaryPosition()
    timeline = primary.timeline ?? timeline
    // Before the first probe, a position without a timeline stands on the primary's.
    if (position.timeline === undefined) position = { lsn: position.lsn, timeline: primary.timeline }
    const older = position.timeline === undefined || (primary.timeline ?? 0) > position.timeline
    const real = position.lsn <= primary.lsn && (older || position.timeline === primary.timeline)
    return real ? position : { lsn: replayed, timeline: timeline || position.timeline }
  }

  /**
   * Where `position` (of a write, or a token) stands on the current timeline: itself when its timeline is the
   * current one (or newer, or unknown); the same position when its timeline ended past it, or where it ended is
   * unknown; else it was lost, and the position is the switch point (with `lost`, `unknown` for a token, or when
   * `lower`, a position known before the write, is before the switch point).
   */
  async #placed(position: WalPosition, lower: bigint | undefined, what: 'token' | 'write'): Promise<Placed> {
    const current = this.#replicas.timeline
    const { timeline } = position
    if (timeline === undefined || current === 0 || timeline >= current)
      return { position: { ...position, lower } }
    const end = await this.#monitor.timelineEnd(timeline)
    if (end === undefined || position.lsn <= end)
      return { position: { lsn: position.lsn, timeline: current } }
    // A token is the position read after its session's last write (an upper bound, shared with other sessions'
    // writes): the write itself may be before the switch point. Only a write with a lower bound past it is certain.
    const outcome = what === 'token' || (lower !== undefined && lower < end) ? 'unknown' : 'aborted'
    if (outcome === 'aborted') this.#monitor.lostWrite(timeline, position.lsn)
    return {
      position: { lsn: end, timeline: current },
      lost: writesLost(position, end, current, what, outcome),
    }
  }

  /** A write whose node failed before its position could be read after it. */
  async #untracked(write: SessionWrite): Promise<Placed> {
    const current = this.#replicas.timeline
    const { timeline, lower } = write
    const end =
      timeline !== undefined && current > 0 && timeline < current
        ? await this.#monitor.timelineEnd(timeline)
        : undefined
    // Its timeline goes on (or where it ended is unknown): the current primary's position covers it.
    if (end === undefined) return { position: await this.#lookups.primaryPosition() }
    const position = { lsn: lower ?? end, timeline: timeline! }
    const outcome = lower !== undefined && lower >= end ? 'aborted' : 'unknown'
    if (outcome === 'aborted') this.#monitor.lostWrite(timeline!, position.lsn)
    return {
      position: { lsn: end, timeline: current },
      lost: writesLost(position, end, current, 'write', outcome),
    }
  }
}

/** The later of two positions: the newer timeline's, or on one timeline the further one. */
function later(a: SettledPosition | undefined, b: SettledPosition): SettledPosition {
  if (a === undefined) return b
  if ((a.timeline ?? 0) !== (b.timeline ?? 0)) return (b.timeline ?? 0) > (a.timeline ?? 0) ? b : a
  return b.lsn > a.lsn ? b : a
}

/**
 * `PGROUTE_WRITES_LOST`: the session's write (or the token it continues from) at `position` is past `end`, where
 * its timeline ended. `outcome` is `aborted` when the write is certainly not on the current timeline (running it
 * again applies it once), `unknown` when it completed within a round trip of the switch point, or when only a
 * token (a position read after the write) says where it was.
 */
function writesLost(
  position: WalPosition,
  end: bigint,
  current: number,
  what: 'token' | 'write',
  outcome: Outcome,
): PgRouteError {
  const at = `${formatLsn(position.lsn)}@${position.timeline}`
  const subject =
    what === 'token'
      ? `its token ${at} is past the point where timeline ${position.timeline} ended (${formatLsn(end)}); a token is the node's WAL position read after the session's last write, so that write may not be on the current timeline ${current}`
      : outcome === 'unknown'
        ? `its last write on timeline ${position.timeline} completed within a round trip of the point where that timeline ended (${formatLsn(end)}; the node's WAL was at ${formatLsn(position.lsn)} right after it), so it may not be on the current timeline ${current}`
        : `its last write was made on timeline ${position.timeline} past the point where that timeline ended (${formatLsn(end)})`
  const range =
    outcome === 'unknown'
      ? ''
      : `: WAL ${formatLsn(end)}–${formatLsn(position.lsn)} of timeline ${position.timeline} is not on the current timeline ${current}`
  return new PgRouteError(
    'PGROUTE_WRITES_LOST',
    `Writes of this session were ${outcome === 'unknown' ? 'perhaps ' : ''}lost in a failover: ${subject}${range}. The primary had acknowledged them; read your data again before relying on it`,
    { outcome },
  )
}
