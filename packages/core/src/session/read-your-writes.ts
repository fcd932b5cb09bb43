import { setTimeout as sleep } from 'node:timers/promises'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { isPgRouteError, type Outcome, PgRouteError } from '../errors.js'
import { type CommitTicket, sameServer, serverOf } from '../health/connection-watch.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import { formatLsn, parseLsn, parseTimeline, type WalPosition } from '../health/lsn.js'
import { closedError } from '../health/node-link.js'
import {
  appliesEveryCommit,
  commitLevelOf,
  parseSyncSnapshot,
  SYNC_SNAPSHOT_COLUMN,
} from '../health/sync-replication.js'
import { isConnectionError } from '../pg-errors.js'
import type { Exclusions, ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession, SessionWrite, Settled } from './causal-session.js'
import { SharedFetch } from './shared-fetch.js'

/** A read of a session that must see its writes: the replicas it tried, its session, why it goes where it goes. */
export interface SessionRead extends Exclusions {
  readonly session?: CausalSession | undefined
  reason: string
}

/** The route reason of a session's read sent to a synchronous standby without waiting for its replay position. */
export const SYNC_APPLIED_REASON = 'read-your-writes-sync'

/**
 * Bound of the router's own statements when reads have no time limit. A session read that needs the primary's
 * position has no safe answer without it, so it waits as long as a read may.
 */
const CONTROL_TIMEOUT_MS = 30_000

/** Pauses between lookups of the primary's position while it fails (doubling). */
const PRIMARY_RETRY_MIN_MS = 25
const PRIMARY_RETRY_MAX_MS = 200

// On the primary, the same statement says what it waits for on commit (the synchronous-standby rule needs a
// snapshot taken after the session's writes were acknowledged).
const PRIMARY_POSITION_SQL = `SELECT pg_current_wal_insert_lsn()::text AS lsn,
  substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8) AS timeline, ${SYNC_SNAPSHOT_COLUMN}`
const REPLAY_POSITION_SQL = `SELECT pg_last_wal_replay_lsn()::text AS lsn,
  (SELECT lpad(to_hex(received_tli), 8, '0') FROM pg_stat_wal_receiver) AS timeline`

type PositionRow = { lsn: string | null; timeline: string | null; sync?: string | null }

/** One node's lookups, each kind of position shared by concurrent callers. */
interface NodeLookups {
  readonly written: SharedFetch<WalPosition | undefined>
  readonly replayed: SharedFetch<WalPosition | undefined>
}

/**
 * The read-your-writes rule: the primary's WAL position (on its timeline) a session's reads must see, and the node
 * that has replayed it (a caught-up replica on that timeline, one that catches up within
 * `readYourWrites.maxWaitMs`, else the primary). WAL positions are read on the router's own connection to each
 * node (its `NodeLink`, shared with the health probes), never on a connection of the application's pools, and concurrent callers
 * share each lookup. Positions are compared only on the same timeline.
 */
export class ReadYourWrites {
  readonly #replicas: ReplicaSet
  readonly #monitor: HealthMonitor
  readonly #options: ResolvedOptions['readYourWrites']
  /** How long a replica's replay position is awaited before the read goes elsewhere. */
  readonly #replayCheckMs: number
  readonly #controlTimeoutMs: number
  /** Made on first use: nodes change roles and join at runtime. */
  readonly #lookups = new Map<RouterNode, NodeLookups>()
  #closed = false

  constructor(replicas: ReplicaSet, monitor: HealthMonitor, options: ResolvedOptions) {
    this.#replicas = replicas
    this.#monitor = monitor
    this.#options = options.readYourWrites
    this.#replayCheckMs = options.healthCheck.timeoutMs
    this.#controlTimeoutMs = options.timeouts.readMs || CONTROL_TIMEOUT_MS
  }

  /**
   * The primary's WAL insert position and timeline: everything committed before this call is at or before it.
   * When the primary fails under the lookup (it may be going down in a failover, or restarting), the primary the
   * router follows next is asked, for as long as a read may take: without the position, a session's read has no
   * safe node. Then it fails with `PGROUTE_PRIMARY_UNAVAILABLE`, the last failure as `cause`.
   */
  readonly primaryPosition = async (): Promise<WalPosition> => {
    const deadline = Date.now() + this.#controlTimeoutMs
    for (let pause = PRIMARY_RETRY_MIN_MS; ; pause = Math.min(pause * 2, PRIMARY_RETRY_MAX_MS)) {
      const primary = this.#replicas.primary
      try {
        const position = await this.#lookupsOf(primary).written.get()
        if (position === undefined) throw new Error('pg_current_wal_insert_lsn() returned no position')
        return position
      } catch (error) {
        if (isPgRouteError(error) && error.code === 'PGROUTE_CLOSED') throw error
        const remaining = deadline - Date.now()
        // A hung primary's lookup timed out: the time a read may take is spent.
        if (!isConnectionError(error) || this.#closed || remaining <= 0) throw lookupFailed(primary, error)
        await sleep(Math.min(pause, remaining), undefined, { ref: false })
      }
    }
  }

  /**
   * The WAL position `session`'s reads must see, or `undefined`. Settles its writes and its floor first when
   * needed (a write since the last settle, or a floor of a timeline that has ended): see {@link #settle}.
   */
  required(session: CausalSession): Promise<WalPosition | undefined> | WalPosition | undefined {
    if (session.claim !== undefined) return this.#verifyClaim(session, session.claim)
    if (!session.dirty) {
      const floor = session.floor
      const current = this.#replicas.timeline
      if (floor === undefined || floor.timeline === undefined || floor.timeline >= current) return floor
    }
    return session.settle(this.#settle)
  }

  /**
   * A statement of `session` ran on `node` (the primary) and may have written; `lower` is a position of the node
   * read before it was sent. The node's insert position is fetched now, off the caller's path, on the router's
   * own connection to it (shared: however many sessions write, one fetch runs and one waits per node), so that
   * where the write landed is known even if the node dies the next moment.
   */
  wrote(session: CausalSession, node: RouterNode, lower: bigint | undefined, ticket?: CommitTicket): void {
    // Before the fetch is sent: the snapshot of synchronous replication it reads is then one taken after the write.
    const completedAt = performance.now()
    const upper = this.#lookupsOf(node)
      .written.get()
      .then(
        (position) => {
          // A tighter lower bound for the next writes there, and the furthest the node is known to have reached.
          if (position !== undefined) node.observePosition(position.lsn)
          return position
        },
        () => undefined,
      )
    session.markWrite({ node, timeline: node.timeline, lower, upper }, ticket, completedAt)
  }

  /**
   * The node for a read that must see `required`: a replica whose replay position has reached it, else the
   * primary. Replicas it goes to are excluded from `read`'s later attempts. Positions are compared only on the
   * same timeline: a position of another timeline, or of an unknown one, is read on the primary. Waiting for a
   * replica to replay holds none of its connections.
   */
  async nodeFor(required: WalPosition, read: SessionRead): Promise<RouterNode> {
    const { timeline, lsn } = required
    // A node whose connections reach several servers has no one replay position: its figures describe one of them.
    const candidates =
      timeline === undefined || timeline !== this.#replicas.timeline
        ? []
        : this.#replicas
            .candidates(read)
            .filter((replica) => replica.timeline === timeline && replica.servers.problem === undefined)
    const node = this.#replicas.choose(
      candidates.filter((replica) => replica.lsn !== undefined && replica.lsn >= lsn),
    )
    if (node) {
      read.exclude(node)
      return node
    }
    if (this.#options.synchronousApply) {
      const applied = this.#replicas.choose(
        candidates.filter((replica) => this.#appliedAll(read.session, replica)),
      )
      if (applied) {
        read.exclude(applied)
        read.reason = SYNC_APPLIED_REASON
        return applied
      }
    }
    if (this.#options.directCheck && candidates.length > 0) {
      // The probe data may be up to one interval old: ask the most advanced candidate itself (of several equally
      // advanced ones, the one the balance picks: with 'nearest', the nearest).
      const furthest = candidates.reduce(
        (lsn, replica) => ((replica.lsn ?? 0n) > lsn ? (replica.lsn ?? 0n) : lsn),
        0n,
      )
      const advanced = candidates.filter((replica) => (replica.lsn ?? 0n) === furthest)
      const best = this.#replicas.choose(advanced) ?? advanced[0]!
      read.exclude(best)
      if (await this.#replayed(best, required, true)) return best
      // The last probe's figures are no sign of replay since (one replica may apply WAL late, another's probe
      // may be a round behind): the other candidates as near as the first are asked once each, most advanced
      // first, without a wait; with balance 'nearest', a farther one never.
      const near = (node: RouterNode) =>
        !this.#replicas.byDistance || this.#replicas.distanceOf(node) === this.#replicas.distanceOf(best)
      const others = candidates
        .filter((other) => other !== best && near(other))
        .sort((a, b) => ((a.lsn ?? 0n) < (b.lsn ?? 0n) ? 1 : (a.lsn ?? 0n) > (b.lsn ?? 0n) ? -1 : 0))
      for (const other of others) {
        read.exclude(other)
        if (await this.#replayed(other, required, false)) return other
      }
    }
    return this.#replicas.readFallback()
  }

  /**
   * Whether `client`, a connection of `node` a session's read was sent to by this rule, reaches the server whose
   * positions the rule read (the one behind the router's own connection to `node`). A node whose address leads to
   * several servers (HAProxy, a reader endpoint) may hand out a connection to another one, which may not have
   * replayed what the rule saw replayed. `true` when either server cannot be told (nothing to compare).
   */
  async answersAsProbed(node: RouterNode, client: object): Promise<boolean> {
    const probed = this.#monitor.linkOf(node)?.info?.server
    if (probed === undefined) return true
    const server = await serverOf(client)
    return server === undefined || sameServer(server, probed)
  }

  /** Forgets the lookups of `node` (a node removed at runtime; its connection is the monitor's to close). */
  forget(node: RouterNode): void {
    this.#lookups.delete(node)
  }

  /** Refuses lookups from now on (the router is ending; its connections are closed by the monitor after this). */
  close(): void {
    this.#closed = true
  }

  #lookupsOf(node: RouterNode): NodeLookups {
    let lookups = this.#lookups.get(node)
    if (lookups === undefined) {
      const fetch = (sql: string) => async () => {
        const link = this.#monitor.linkOf(node)
        if (this.#closed || link === undefined) throw closedError(node.name)
        const sentAt = performance.now()
        const row = await link.run(
          async (client) => (await client.query<PositionRow>(sql)).rows[0],
          this.#controlTimeoutMs,
          "the router's own statement",
        )
        const sync = parseSyncSnapshot(row?.sync ?? null, performance.now(), sentAt, link.info?.commitSource)
        if (sync !== undefined) this.#monitor.recordSync(sync)
        const lsn = row?.lsn ? parseLsn(row.lsn) : undefined
        return lsn === undefined
          ? undefined
          : { lsn, timeline: parseTimeline(row?.timeline) ?? node.timeline }
      }
      lookups = {
        written: new SharedFetch(fetch(PRIMARY_POSITION_SQL)),
        replayed: new SharedFetch(fetch(REPLAY_POSITION_SQL)),
      }
      this.#lookups.set(node, lookups)
    }
    return lookups
  }

  /**
   * Whether `replica`, a synchronous standby, applied every write of `session` before it was acknowledged, as
   * PostgreSQL guarantees it (`appliesEveryCommit` in `sync-replication.ts`): every write committed with
   * `synchronous_commit = remote_apply` (fixed on its connection, or the server's configuration), none warned of a
   * cancelled wait; a snapshot of the primary received before the first write started and one taken after the last
   * write completed show the standby counted, on the same connection of its, all along.
   */
  #appliedAll(session: CausalSession | undefined, replica: RouterNode): boolean {
    const writes = session?.writes
    if (writes === undefined || writes.commits === 'unknown') return false
    const before = this.#monitor.syncBefore(writes.since)
    const after = this.#monitor.syncSentAfter(writes.until)
    if (!appliesEveryCommit(replica.applicationName, before, after)) return false
    if (writes.commits === 'apply') return true
    // Commits made with the server's configuration: it says remote_apply, read on a connection that follows it too.
    return [before, after].every((snapshot) => {
      const level = commitLevelOf(snapshot?.commit)
      return level === 'config' && snapshot?.commit?.value === 'remote_apply'
    })
  }

  /**
   * A token's position, verified before any read relies on it: tokens are untrusted input, and a token must never
   * send the session's reads to the primary unless the session's own writes need it.
   * - `0/0` asks for nothing.
   * - A position of an older timeline is compared with where that timeline ended ({@link HealthMonitor.timelineEnd}):
   *   at or before the switch point it is part of the current timeline's history, and stands as the same position
   *   on the current timeline; past it, the writes it stands for were lost, and the session fails with
   *   `PGROUTE_WRITES_LOST`. When the switch point cannot be read (no privilege), it stands on the current
   *   timeline: reads may then miss a lost write, but never pin the primary.
   * - A position without a timeline (a bare LSN) stands on the current timeline.
   * - On the current timeline, it is believed up to what the primary is known to have reached (its last probe, or
   *   a replica that received that far); beyond it, the primary is asked. A position the primary has not reached
   *   cannot come from a real token: it is clamped to the furthest position a replica of the primary's timeline
   *   has replayed (a position the primary did reach), so a forged token can neither pin a session to the primary
   *   nor hold reads waiting.
   */
  async #verifyClaim(session: CausalSession, claim: WalPosition): Promise<WalPosition | undefined> {
    session.settleClaim(claim, await this.#verified(claim))
    return this.required(session)
  }

  async #verified(claim: WalPosition): Promise<WalPosition | undefined> {
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
    const primary = await this.primaryPosition()
    timeline = primary.timeline ?? timeline
    // Before the first probe, a position without a timeline stands on the primary's.
    if (position.timeline === undefined) position = { lsn: position.lsn, timeline: primary.timeline }
    const older = position.timeline === undefined || (primary.timeline ?? 0) > position.timeline
    const real = position.lsn <= primary.lsn && (older || position.timeline === primary.timeline)
    return real ? position : { lsn: replayed, timeline: timeline || position.timeline }
  }

  /**
   * Settles a session's writes and its floor: where each write landed, and whether it is on the cluster's current
   * timeline. A position of the current timeline stands. A position of a timeline that has ended is compared with
   * where that timeline ended (its switch point, {@link HealthMonitor.timelineEnd}): at or before it, the write is
   * on the current timeline too (the same position stands there); past it, it was lost with the old timeline, and
   * the session is told (`PGROUTE_WRITES_LOST`), `unknown` when the write completed within a round trip of the
   * switch point (its `lower` bound is before it). Without a readable switch point (no privilege) a position stands
   * on the current timeline: nothing is reported, and reads never pin the primary for it.
   *
   * A write whose position could not be read after it (its node failed at once) is placed by its `lower` bound when
   * its timeline has ended, else by the current primary's position (which covers it).
   */
  readonly #settle = async (
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
    if (end === undefined) return { position: await this.primaryPosition() }
    const position = { lsn: lower ?? end, timeline: timeline! }
    const outcome = lower !== undefined && lower >= end ? 'aborted' : 'unknown'
    if (outcome === 'aborted') this.#monitor.lostWrite(timeline!, position.lsn)
    return {
      position: { lsn: end, timeline: current },
      lost: writesLost(position, end, current, 'write', outcome),
    }
  }

  /** Polls `node`'s replay position until it reaches `required` (true) or, with `wait`, `maxWaitMs` is over (false). */
  async #replayed(node: RouterNode, required: WalPosition, wait: boolean): Promise<boolean> {
    const deadline = Date.now() + (wait ? this.#options.maxWaitMs : 0)
    for (let pause = 1; ; pause = Math.min(pause * 2, 10)) {
      let position: WalPosition | undefined
      try {
        position = await within(this.#lookupsOf(node).replayed.get(), this.#replayCheckMs)
      } catch {
        // The replica could not say in time: the read goes elsewhere (the monitor judges the node).
        return false
      }
      // A replica that moved to another timeline meanwhile is not caught up. Without a WAL receiver (its upstream
      // restarting, or fed from an archive) it names no timeline: the one its probes last read stands.
      const timeline = position?.timeline ?? node.timeline
      if (position !== undefined && timeline === required.timeline) {
        node.observePosition(position.lsn)
        if (position.lsn >= required.lsn) return true
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0) return false
      await sleep(Math.min(pause, remaining), undefined, { ref: false })
    }
  }
}

/** A settled position, with the bound before the write it came from (when it came from one). */
interface SettledPosition extends WalPosition {
  readonly lower?: bigint | undefined
}

/** Where a write or a token stands on the current timeline, and the error of its loss. */
interface Placed {
  readonly position: SettledPosition
  readonly lost?: PgRouteError
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

/** `PGROUTE_PRIMARY_UNAVAILABLE`: the primary's position could not be read in time (the last failure as cause). */
function lookupFailed(primary: RouterNode, error: unknown): PgRouteError {
  return new PgRouteError(
    'PGROUTE_PRIMARY_UNAVAILABLE',
    `The WAL position of the primary ${primary.name} (which a session's read must see) could not be read: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  )
}

/** `promise`, or a rejection once `ms` have passed (the timer never holds the process open). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
