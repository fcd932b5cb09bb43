import { setTimeout as sleep } from 'node:timers/promises'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { type CommitTicket, sameServer, serverOf } from '../health/connection-watch.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import type { WalPosition } from '../health/lsn.js'
import { appliesEveryCommit, commitLevelOf } from '../health/sync-replication.js'
import type { Exclusions, ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from './causal-session.js'
import { type CheckedRead, type ReplayReading, reached, sameTimeline, within } from './checked-read.js'
import { PositionLookups } from './position-lookups.js'
import { WriteSettlement } from './write-settlement.js'

/** A read of a session that must see its writes: the replicas it tried, its session, why it goes where it goes. */
export interface SessionRead extends Exclusions {
  readonly session?: CausalSession | undefined
  reason: string
}

/** The route reason of a session's read sent where its writes are known to be (a replica that replayed them). */
export const READ_YOUR_WRITES_REASON = 'read-your-writes'

/** The route reason of a session's read sent to a synchronous standby without waiting for its replay position. */
export const SYNC_APPLIED_REASON = 'read-your-writes-sync'

/**
 * Bound of the router's own statements when reads have no time limit. A session read that needs the primary's
 * position has no safe answer without it, so it waits as long as a read may.
 */
const CONTROL_TIMEOUT_MS = 30_000

/** A replica's replay position asked for before the position the read must see was known. */
interface EarlyReading {
  readonly node: RouterNode
  readonly reading: Promise<ReplayReading>
}

/**
 * The read-your-writes rule: the primary's WAL position (on its timeline) a session's reads must see, and the node
 * that has replayed it (a caught-up replica on that timeline, one that catches up within
 * `readYourWrites.maxWaitMs`, else the primary). Positions are read by {@link PositionLookups} on the router's own
 * connections, and placed on the current timeline by {@link WriteSettlement}; they are compared only on the same
 * timeline.
 *
 * Round trips: the position after a write is read as soon as the write completes, off the caller's path. A read
 * no replica is known to have replayed for goes at once to the replica the rule would ask, right behind a read of
 * its replay position on the same connection ({@link checkedRead}, {@link confirms}): one round trip in all, while
 * the primary's position is read, the answer kept only when that replay position covers it. A read that cannot go
 * so (a cursor, a pinned client) asks that replica on the router's own connection at the same time as the
 * primary's position is read (one round trip), then is sent. A read whose position is known, and a replica known
 * to have replayed it (probes, or an earlier check), cost no round trip of their own.
 */
export class ReadYourWrites {
  readonly #replicas: ReplicaSet
  readonly #monitor: HealthMonitor
  readonly #options: ResolvedOptions['readYourWrites']
  /** How long a replica's replay position is awaited before the read goes elsewhere. */
  readonly #replayCheckMs: number
  readonly #lookups: PositionLookups
  readonly #settlement: WriteSettlement

  constructor(replicas: ReplicaSet, monitor: HealthMonitor, options: ResolvedOptions) {
    this.#replicas = replicas
    this.#monitor = monitor
    this.#options = options.readYourWrites
    this.#replayCheckMs = options.healthCheck.timeoutMs
    const timeoutMs = options.timeouts.readMs || CONTROL_TIMEOUT_MS
    this.#lookups = new PositionLookups(replicas, monitor, timeoutMs, this.#options.synchronousApply)
    this.#settlement = new WriteSettlement(replicas, monitor, this.#lookups)
  }

  /**
   * The WAL position `session`'s reads must see, or `undefined`. Settles its writes and its floor first when
   * needed (a write since the last settle, or a floor of a timeline that has ended): see
   * {@link WriteSettlement.settle}.
   */
  required(session: CausalSession): Promise<WalPosition | undefined> | WalPosition | undefined {
    if (session.claim !== undefined) return this.#verifyClaim(session, session.claim)
    if (!session.dirty) {
      const floor = session.floor
      const current = this.#replicas.timeline
      if (floor === undefined || floor.timeline === undefined || floor.timeline >= current) return floor
    }
    return session.settle(this.#settlement.settle)
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
    const upper = this.#lookups.written(node).then(
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
   * The node for `read`, a read of `session`, when it must see the session's writes: a replica whose replay
   * position has reached the position they need, else the primary; `undefined` when they need none (the read is
   * routed as any other). The node is excluded from `read`'s later attempts. While the position after the
   * session's last write is still being read, the replica this rule would ask is asked at once, in parallel.
   */
  async nodeFor(session: CausalSession, read: SessionRead): Promise<RouterNode | undefined> {
    const required = this.required(session)
    if (!(required instanceof Promise))
      return required === undefined ? undefined : this.#nodeFor(required, read)
    const early = session.placing ? this.#askEarly(session, read) : undefined
    const position = await required
    return position === undefined ? undefined : this.#nodeFor(position, read, early)
  }

  /**
   * A replica `read`, a read of `session`, may be sent to at once with its replay position read right before it on
   * the same connection ({@link CheckedRead}), when the rule would otherwise read that position first and then send
   * the read: the position after the session's last write is still on its way, or no replica is known to have
   * replayed it. `undefined` when the read needs nothing, when a replica is known to have replayed it (no round trip
   * to save), when a synchronous standby may serve it without a replay position, or when no replica is a candidate.
   */
  checkedRead(session: CausalSession, read: SessionRead): CheckedRead | undefined {
    if (!this.#options.directCheck || session.claim !== undefined) return undefined
    const required = this.required(session)
    if (required === undefined) return undefined
    // Awaited once the read is answered: a failure meanwhile is not an unhandled one.
    if (required instanceof Promise) required.catch(() => undefined)
    const known = required instanceof Promise ? undefined : required
    const candidates = this.#candidates(known ? known.timeline : this.#replicas.timeline, read)
    if (candidates.length === 0 || candidates.some((replica) => known && (replica.lsn ?? -1n) >= known.lsn))
      return undefined
    if (this.#options.synchronousApply) {
      const latest = required instanceof Promise
      if (candidates.some((replica) => this.#appliedAll(session, replica, latest))) return undefined
    }
    return { node: this.#furthest(candidates), required }
  }

  /**
   * Whether the answer of `checked`, sent on `client` after its replay position was read there (`reading`), may
   * stand: that position reached the one the read must see. Else the read goes the rule's usual way ({@link nodeFor}:
   * the replica, asked a moment after the write, is asked again, and waited for up to `maxWaitMs`, before the
   * primary). Positions read on `client` are recorded on the node only when it reaches the server the probes read.
   */
  async confirms(
    checked: CheckedRead,
    reading: ReplayReading,
    read: SessionRead,
    client: object,
  ): Promise<boolean> {
    const required = await checked.required
    const { node } = checked
    if (required === undefined) return true
    read.reason = READ_YOUR_WRITES_REASON
    const position = reading === 'failed' ? undefined : reading
    const ok =
      position !== undefined && sameTimeline(node, position, required) && position.lsn >= required.lsn
    if (position !== undefined && (await this.answersAsProbed(node, client)))
      reached(node, position, required)
    if (ok) read.exclude(node)
    return ok
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
    this.#lookups.forget(node)
  }

  /** Refuses lookups from now on (the router is ending; its connections are closed by the monitor after this). */
  close(): void {
    this.#lookups.close()
  }

  /**
   * The node for a read that must see `required`: a replica whose replay position has reached it, else the
   * primary. Replicas it goes to are excluded from `read`'s later attempts. Positions are compared only on the
   * same timeline: a position of another timeline, or of an unknown one, is read on the primary. Waiting for a
   * replica to replay holds none of its connections. `early`: a replica's replay position asked for before
   * `required` was known (see {@link #askEarly}).
   */
  async #nodeFor(required: WalPosition, read: SessionRead, early?: EarlyReading): Promise<RouterNode> {
    read.reason = READ_YOUR_WRITES_REASON
    const candidates = this.#candidates(required.timeline, read)
    const node = this.#replicas.choose(
      candidates.filter((replica) => replica.lsn !== undefined && replica.lsn >= required.lsn),
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
      // advanced ones, the one the balance picks, or the one asked early).
      const best = this.#furthest(candidates, early?.node)
      read.exclude(best)
      if (await this.#replayed(best, required, true, best === early?.node ? early.reading : undefined))
        return best
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
   * The replicas `read` may go to on `timeline` (none for an unknown timeline, or one the cluster has left). A node
   * whose connections reach several servers has no one replay position: its figures describe one of them.
   */
  #candidates(timeline: number | undefined, read: SessionRead): RouterNode[] {
    if (timeline === undefined || timeline !== this.#replicas.timeline) return []
    return this.#replicas
      .candidates(read)
      .filter((replica) => replica.timeline === timeline && replica.servers.problem === undefined)
  }

  /** The most advanced of `candidates` by their last known replay position: `preferred` when it is one of them. */
  #furthest(candidates: readonly RouterNode[], preferred?: RouterNode): RouterNode {
    const furthest = candidates.reduce(
      (lsn, replica) => ((replica.lsn ?? 0n) > lsn ? (replica.lsn ?? 0n) : lsn),
      0n,
    )
    const advanced = candidates.filter((replica) => (replica.lsn ?? 0n) === furthest)
    if (preferred !== undefined && advanced.includes(preferred)) return preferred
    return this.#replicas.choose(advanced) ?? advanced[0]!
  }

  /**
   * Asks the replica {@link #nodeFor} would ask for its replay position now, while the position after the session's
   * last write is still on its way: both answers then come in one round trip. None when no replica would be asked,
   * or when the session's read may go to a synchronous standby without it (as the latest snapshot shows them).
   * The answer is only compared with the position once that is known: a replica that replayed past it has the
   * write, whenever its position was read.
   */
  #askEarly(session: CausalSession, read: SessionRead): EarlyReading | undefined {
    if (!this.#options.directCheck) return undefined
    const candidates = this.#candidates(this.#replicas.timeline, read)
    if (candidates.length === 0) return undefined
    if (this.#options.synchronousApply) {
      if (candidates.some((replica) => this.#appliedAll(session, replica, true))) return undefined
    }
    const node = this.#furthest(candidates)
    return { node, reading: this.#readReplay(node) }
  }

  /**
   * Whether `replica`, a synchronous standby, applied every write of `session` before it was acknowledged, as
   * PostgreSQL guarantees it (`appliesEveryCommit` in `sync-replication.ts`): every write committed with
   * `synchronous_commit = remote_apply` (fixed on its connection, or the server's configuration), none warned of a
   * cancelled wait; a snapshot of the primary received before the first write started and one taken after the last
   * write completed show the standby counted, on the same connection of its, all along. `latest`: the latest
   * snapshot stands for the one after (a guess made before that one arrived, never a reason to skip the wait).
   */
  #appliedAll(session: CausalSession | undefined, replica: RouterNode, latest = false): boolean {
    const writes = session?.writes
    if (writes === undefined || writes.commits === 'unknown') return false
    const before = this.#monitor.syncBefore(writes.since)
    const after = latest
      ? this.#monitor.syncBefore(Number.POSITIVE_INFINITY)
      : this.#monitor.syncSentAfter(writes.until)
    if (!appliesEveryCommit(replica.applicationName, before, after)) return false
    if (writes.commits === 'apply') return true
    // Commits made with the server's configuration: it says remote_apply, read on a connection that follows it too.
    return [before, after].every((snapshot) => {
      const level = commitLevelOf(snapshot?.commit)
      return level === 'config' && snapshot?.commit?.value === 'remote_apply'
    })
  }

  /** See {@link WriteSettlement.verify}; the verified position becomes the session's floor. */
  async #verifyClaim(session: CausalSession, claim: WalPosition): Promise<WalPosition | undefined> {
    session.settleClaim(claim, await this.#settlement.verify(claim))
    return this.required(session)
  }

  /** `node`'s replay position, read now (`'failed'` when it could not say within the health check's timeout). */
  #readReplay(node: RouterNode): Promise<ReplayReading> {
    return within(this.#lookups.replayed(node), this.#replayCheckMs).catch(() => 'failed' as const)
  }

  /**
   * Polls `node`'s replay position until it reaches `required` (true) or, with `wait`, `maxWaitMs` is over (false).
   * `early`: its position as read before `required` was known; when that one falls short, the node is asked again
   * at once (it was read before the write's position was even known: no sign that the replica lags).
   */
  async #replayed(
    node: RouterNode,
    required: WalPosition,
    wait: boolean,
    early?: Promise<ReplayReading>,
  ): Promise<boolean> {
    if (early !== undefined) {
      const reading = await early
      // The replica could not say in time: the read goes elsewhere (the monitor judges the node).
      if (reading === 'failed') return false
      if (reached(node, reading, required)) return true
    }
    const deadline = Date.now() + (wait ? this.#options.maxWaitMs : 0)
    for (let pause = 1; ; pause = Math.min(pause * 2, 10)) {
      const reading = await this.#readReplay(node)
      if (reading === 'failed') return false
      if (reached(node, reading, required)) return true
      const remaining = deadline - Date.now()
      if (remaining <= 0) return false
      await sleep(Math.min(pause, remaining), undefined, { ref: false })
    }
  }
}
