import type pg from 'pg'
import type { ReplicaInfo } from '../config/replica-info.js'
import type { NodeSpec } from '../config/resolved-options.js'
import { hideClient } from '../errors.js'
import { type DistanceChoice, isDistanceChoice } from './distance-choice.js'
import type { LeaseRecord as Lease } from './lease-record.js'
import { SlotBag, type Slotted } from './slot-bag.js'

/** A replica's sync state in the primary's `pg_stat_replication`. */
export type SyncState = 'sync' | 'quorum' | 'potential' | 'async'

/** The servers seen answering on a node's connections within the last minute, and the problem when several did. */
export interface ServersSeen {
  readonly count: number
  readonly problem: string | undefined
}

const NO_SERVERS: ServersSeen = Object.freeze({ count: 0, problem: undefined })

/**
 * Weight of a new round-trip sample in the node's moving average: a step change is 90 % absorbed after ten
 * samples (ten probes, ten seconds at the default interval), and one odd sample moves it a fifth of the way.
 */
const RTT_WEIGHT = 0.2

/** How many statements after each probe are timed as round-trip samples (see `RouterNode.began`). */
const TIMED_PER_PROBE = 16

/** The parts of pg-pool's `Pool` that tell how many of its connections are taken (a look-alike may lack them). */
interface PoolCounts {
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
}

/**
 * Health of a node as the router sees it:
 * - `unknown`: not probed yet (replicas get no reads until their first probe succeeds);
 * - `up`: reachable and, for a replica, in recovery on the cluster's timeline and within the lag bounds;
 * - `lagging`: a reachable replica beyond `lag.maxBytes` or `lag.maxMs`;
 * - `down`: unreachable, or a probe or statement failed with a connection error (re-probed with back-off);
 * - `fenced`: reachable but not part of the cluster's current history, so it gets no statements: it claims to
 *   be primary on an older timeline (or beside the primary), follows an older timeline, or has another system
 *   identifier. The reason says which. It leaves this state as soon as a probe finds it back in line.
 */
export type NodeState = 'unknown' | 'up' | 'lagging' | 'down' | 'fenced'

/** The role of a node, as observed: the primary, or any other node (a replica, or a fenced node). */
export type NodeRole = 'primary' | 'replica'

/** What runs on one of a node's connections: a statement of the router's, or a transaction's body. */
export interface RunningStatement extends Slotted {
  readonly client: pg.PoolClient
  /** When it runs out of time, in ticks of the time-limit timer (`StatementCanceller`); 0: no limit. */
  readonly deadline: number
  /** A transaction's body (its own statements on the connection), rather than one statement of the router's. */
  readonly body: boolean
  /** The lease the connection was checked out under (what the node was then), once there is one. */
  readonly lease: Lease | undefined
}

/**
 * A checkout waiting for one of a node's connections; failed at once when the node is marked down, and when its
 * deadline passes (whatever the pool's own `connectionTimeoutMillis`, which may be 0: wait forever).
 */
export interface WaitingCheckout extends Slotted {
  /** When the wait runs out, in ticks of the time-limit timer (`StatementCanceller`); 0: no limit. */
  readonly deadline: number
  checkoutFailed(error: unknown): void
}

/** The WAL figures of a node's latest probe; a figure left out is left as it was. */
export interface NodeReading {
  readonly timeline: number | undefined
  readonly lsn: bigint | undefined
  readonly receiveLsn?: bigint | undefined
  readonly lagBytes?: number
  readonly lagSeconds?: number
}

/**
 * Who a node tells of its changes: the {@link NodeSet} it belongs to, which owns roles and the topology epoch.
 */
export interface NodeOwner {
  /** `node` moved from `from` to its current state, for `reason`. */
  nodeStateChanged(node: RouterNode, from: NodeState, reason: string): void
  /** `node`'s role changed, or it was fenced or unfenced: returns the topology epoch it is stamped with. */
  nodeRoleChanged(node: RouterNode): number
}

/**
 * One node of the router: its pool plus live health, lag and traffic figures. Its role is observed by the health
 * monitor (the configuration only gives the first guess) and assigned by its {@link NodeSet}. Everything it
 * knows changes through its own methods, each named for the event it records.
 */
export class RouterNode {
  readonly name: string
  readonly weight: number
  readonly pool: pg.Pool
  readonly spec: NodeSpec
  /** The zone the node runs in, as configured (`undefined`: not given). */
  readonly zone: string | undefined
  /** The most connections the node's pool opens (pg-pool's `max`): it is saturated with that many taken. */
  readonly poolMax: number
  /** A read-only view handed to balancing strategies, allocated once. */
  readonly info: ReplicaInfo
  /** What runs on the node's connections, so that it can be cancelled (time limit, node down). */
  readonly running = new SlotBag<RunningStatement>()
  /** Checkouts waiting for one of the node's connections (failed at once when the node goes down). */
  readonly waiting = new SlotBag<WaitingCheckout>()

  readonly #owner: NodeOwner
  #role: NodeRole
  #roleEpoch = 0
  #state: NodeState = 'unknown'
  #reason: string | undefined
  #downBy: 'probe' | 'statement' | undefined
  #removed = false
  #timeline: number | undefined
  #systemId: string | undefined
  #lsn: bigint | undefined
  #receiveLsn: bigint | undefined
  #lagBytes = 0
  #lagSeconds = 0
  #lastProbeAt: number | undefined
  #lastError: string | undefined
  #lastFailure: unknown
  #failures = 0
  #coolUntil = 0
  #syncState: SyncState | undefined
  #applicationName: string | undefined
  #servers: ServersSeen = NO_SERVERS
  #inFlight = 0
  #served = 0
  #errors = 0
  #rerouted = 0
  /** The moving average of round trips, in ms (`undefined` before the first sample). */
  #rttMs: number | undefined
  /** The fastest statement since the last probe, in ms: it bounds the round trip from above, as the probe does. */
  #fastestMs = Number.POSITIVE_INFINITY
  /** Statements timed since the last probe (see {@link began}). */
  #timed = 0
  /** Whether the pool counts its connections (pg-pool does); else the router's own counts stand in. */
  readonly #counted: boolean
  /** When a selector last chose the node (its own counter), to break ties between equally busy replicas. */
  #pickedAt = 0
  /** Reads `balance: 'nearest'` sent here, by why (see {@link choices}). */
  readonly #choices: Record<DistanceChoice, number> = { nearest: 0, 'spill-over': 0, far: 0 }

  constructor(spec: NodeSpec, owner: NodeOwner) {
    this.spec = spec
    this.name = spec.name
    this.#role = spec.role
    this.weight = spec.weight
    this.pool = spec.pool
    this.zone = spec.zone
    this.poolMax = (spec.pool as { options?: pg.PoolConfig }).options?.max ?? 10
    this.#counted = typeof (spec.pool as unknown as Partial<PoolCounts>).totalCount === 'number'
    this.#owner = owner
    const node = this
    this.info = Object.freeze({
      name: spec.name,
      weight: spec.weight,
      zone: spec.zone,
      get rttMs() {
        return node.#rttMs
      },
      get lagBytes() {
        return node.#lagBytes
      },
      get lagSeconds() {
        return node.#lagSeconds
      },
      get inFlight() {
        return node.#inFlight
      },
      get served() {
        return node.#served
      },
    })
  }

  /** `primary` for the one node the router sends writes to now, `replica` for every other. */
  get role(): NodeRole {
    return this.#role
  }

  /**
   * The topology epoch at which the node's role last changed, or it was last fenced or unfenced (0: never). A
   * lease granted at a later or equal epoch was granted under the node's current role (see `lease.ts`).
   */
  get roleEpoch(): number {
    return this.#roleEpoch
  }

  get state(): NodeState {
    return this.#state
  }

  /** Why the node is in its current state (for `fenced`: what fences it). */
  get reason(): string | undefined {
    return this.#reason
  }

  /**
   * What marked the node down: a failed `probe` (confirmed), or a `statement` that failed with a connection error
   * (suspected until the re-probe, a few hundred milliseconds later, confirms or clears it).
   */
  get downBy(): 'probe' | 'statement' | undefined {
    return this.#downBy
  }

  /** Set once the node was removed from the router: it takes no new statements. */
  get removed(): boolean {
    return this.#removed
  }

  /** Whether the node may take statements of its role now. */
  get usable(): boolean {
    return this.#state === 'up' && !this.#removed
  }

  /** Timeline the node is on (primary) or streams (replica), at the last probe that could tell. */
  get timeline(): number | undefined {
    return this.#timeline
  }

  /** The node's system identifier (`pg_control_system()`), once read. */
  get systemId(): string | undefined {
    return this.#systemId
  }

  /** Last replayed WAL position (replicas) or current WAL position (primary), at the last probe or check. */
  get lsn(): bigint | undefined {
    return this.#lsn
  }

  /** Last received WAL position (replicas). */
  get receiveLsn(): bigint | undefined {
    return this.#receiveLsn
  }

  /** Bytes of WAL behind the primary (replicas), at the last probe. */
  get lagBytes(): number {
    return this.#lagBytes
  }

  /** Age in seconds of the oldest WAL not replayed yet (replicas), at the last probe. */
  get lagSeconds(): number {
    return this.#lagSeconds
  }

  /** When the last probe finished (epoch ms). */
  get lastProbeAt(): number | undefined {
    return this.#lastProbeAt
  }

  /** Message of the last failure, scrubbed of secrets. */
  get lastError(): string | undefined {
    return this.#lastError
  }

  /** The last failure itself (the `cause` of errors raised because the node is down). */
  get lastFailure(): unknown {
    return this.#lastFailure
  }

  /** Consecutive probe or connection failures; drives the re-probe back-off. */
  get failures(): number {
    return this.#failures
  }

  /** What runs on the node now: statements and transaction bodies. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Statements the node has completed. */
  get served(): number {
    return this.#served
  }

  /** Connection and probe failures. */
  get errors(): number {
    return this.#errors
  }

  /** Reads this replica refused as writes (SQLSTATE 25006) that were re-run on the primary. */
  get rerouted(): number {
    return this.#rerouted
  }

  /**
   * Measured round-trip time to the node, in ms: a moving average ({@link RTT_WEIGHT}) with one sample per probe,
   * the faster of the probe's round trip and the fastest statement since the previous probe. `undefined` before the
   * first probe answered.
   */
  get rttMs(): number | undefined {
    return this.#rttMs
  }

  /**
   * Connections of the node's pool taken now, plus checkouts queued for one: what the next checkout competes with.
   * pg-pool's own counts (they include clients pinned by the application); for a pool that does not count, the
   * router's statements and checkouts.
   */
  get busy(): number {
    if (!this.#counted) return this.#inFlight + this.waiting.size
    const pool = this.pool as unknown as PoolCounts
    return pool.totalCount - pool.idleCount + pool.waitingCount
  }

  /** Every connection the pool may open is taken: the next checkout would wait for one. */
  get saturated(): boolean {
    return this.busy >= this.poolMax
  }

  /** Reads `balance: 'nearest'` sent to the node since the router started, by why it chose the node. */
  get choices(): Readonly<Record<DistanceChoice, number>> {
    return this.#choices
  }

  /** A connection of the node was checked out for `reason`: a `balance: 'nearest'` choice is counted. */
  leasedFor(reason: string): void {
    if (isDistanceChoice(reason)) this.#choices[reason]++
  }

  /** When a selector last chose the node, by its own count of choices (0: never). */
  get pickedAt(): number {
    return this.#pickedAt
  }

  /** Moves to `state`, telling the node's owner only on an actual change. */
  setState(state: NodeState, reason: string): void {
    const from = this.#state
    if (state === from) {
      // A fenced node keeps its state but its reason may change (say, a newer timeline appeared).
      if (state === 'fenced') this.#reason = reason
      return
    }
    this.#state = state
    this.#reason = reason
    // Fenced or back in line: leases granted before no longer speak for the node.
    if (from === 'fenced' || state === 'fenced') this.#roleEpoch = this.#owner.nodeRoleChanged(this)
    this.#owner.nodeStateChanged(this, from, reason)
  }

  /**
   * A probe's round trip took `ms` (the statement alone, not the connect): one sample of the round-trip time, the
   * faster of it and the fastest statement since the previous probe. Both only bound the network's round trip from
   * above (a probe waits for the server and the router's event loop too; a statement for its own work as well), so
   * the faster of the two is the better estimate, and a node that serves only slow statements keeps its probe's.
   */
  observeRtt(ms: number | undefined): void {
    if (ms === undefined) return
    const sample = Math.min(ms, this.#fastestMs)
    this.#fastestMs = Number.POSITIVE_INFINITY
    this.#timed = 0
    if (!Number.isFinite(sample) || sample < 0) return
    this.#rttMs = this.#rttMs === undefined ? sample : this.#rttMs + RTT_WEIGHT * (sample - this.#rttMs)
  }

  /** A selector chose the node, as its `turn`th choice. */
  picked(turn: number): void {
    this.#pickedAt = turn
  }

  /** A probe answered at `at`: the failure streak ends. */
  probed(at: number, systemId: string | undefined): void {
    this.#lastProbeAt = at
    this.#failures = 0
    if (systemId !== undefined) this.#systemId = systemId
  }

  /** The WAL figures a probe read (the lag computed against the primary's position of the same round). */
  observe(reading: NodeReading): void {
    this.#timeline = reading.timeline
    this.#lsn = reading.lsn
    if ('receiveLsn' in reading) this.#receiveLsn = reading.receiveLsn
    if (reading.lagBytes !== undefined) this.#lagBytes = reading.lagBytes
    if (reading.lagSeconds !== undefined) this.#lagSeconds = reading.lagSeconds
  }

  /**
   * A WAL position learned outside a probe: a replica's replay position (a direct read-your-writes check), the
   * primary's insert position (read after a session's write). Positions only rise.
   */
  observePosition(lsn: bigint): void {
    if (this.#lsn === undefined || lsn > this.#lsn) this.#lsn = lsn
  }

  /**
   * A probe (`at`, when it finished) or a statement failed with a connection error: the node is marked down.
   * `message` is the error's text, already scrubbed of secrets.
   */
  failed(error: unknown, message: string, by: 'probe' | 'statement', at?: number): void {
    if (at !== undefined) this.#lastProbeAt = at
    // A statement's failure does not clear a probe's confirmation of the same outage.
    if (this.#state !== 'down' || by === 'probe') this.#downBy = by
    this.#failures++
    this.#errors++
    this.#lastError = message
    this.#lastFailure = hideClient(error)
    this.setState('down', message)
  }

  /** @internal The node's {@link NodeSet} assigns roles (an election, a primary found back in recovery). */
  assignRole(role: NodeRole): void {
    if (role === this.#role) return
    this.#role = role
    this.#roleEpoch = this.#owner.nodeRoleChanged(this)
  }

  /** @internal The node left its {@link NodeSet}: it takes no new statement. */
  retire(): void {
    this.#removed = true
  }

  /** A statement, or a transaction's body, started on one of the node's connections. */
  began(running: RunningStatement): void {
    this.#inFlight++
    // Only the first few statements after a probe are timed: the fastest of them is the round-trip sample, and
    // reading the clock twice for every statement would cost the statement path more than the sample is worth.
    let stamp = 0
    if (!running.body && this.#timed < TIMED_PER_PROBE) {
      this.#timed++
      stamp = performance.now()
    }
    this.running.add(running, stamp)
  }

  /**
   * What {@link began} ended; `served` when it succeeded. A statement that succeeded is a round-trip sample (the
   * fastest since the last probe counts, see {@link observeRtt}); a transaction's body is not (it may have sent
   * nothing).
   */
  ended(running: RunningStatement, served: boolean): void {
    this.#inFlight--
    if (served) {
      const stamp = this.running.stampOf(running)
      if (stamp > 0) {
        const ms = performance.now() - stamp
        if (ms < this.#fastestMs) this.#fastestMs = ms
      }
    }
    this.running.remove(running)
    if (served) this.#served++
  }

  /**
   * One of the node's connections failed with a connection error (`message`, scrubbed of secrets): the node is
   * suspect until a probe settles it. A replica takes no new reads until `until` (epoch ms; 0: leave as is).
   */
  suspected(message: string, until: number): void {
    this.#errors++
    this.#lastError = message
    if (this.#role === 'replica' && this.#coolUntil < until) this.#coolUntil = until
  }

  /** The probe that settles a suspicion (raised with `until`, see {@link suspected}) found the node up. */
  cleared(until: number): void {
    if (this.#coolUntil === until) this.#coolUntil = 0
  }

  /** The node had no connection slot free: reads avoid it until `until` (epoch ms). It is busy, not broken. */
  coolOff(until: number): void {
    this.#coolUntil = until
  }

  /** Whether reads avoid the node now (see {@link coolOff}); the first read that finds it over clears it. */
  cooling(): boolean {
    // The clock is read only while a cool-off is set: every read asks.
    if (this.#coolUntil === 0) return false
    if (Date.now() < this.#coolUntil) return true
    this.#coolUntil = 0
    return false
  }

  /** The replica refused a read as a write; it is re-run on the primary. */
  countRerouted(): void {
    this.#rerouted++
  }

  /**
   * Replicas: the replica's sync state in the primary's `pg_stat_replication` (matched by the name it gives itself
   * there), `undefined` when the primary lists no single WAL sender for it (a cascade, a standby fed from the
   * archive, or no privilege to see the senders' state).
   */
  get syncState(): SyncState | undefined {
    return this.#syncState
  }

  /** Replicas: the `application_name` of its WAL receiver's connection (its name on its upstream). */
  get applicationName(): string | undefined {
    return this.#applicationName
  }

  /** How many servers answered on the node's connections lately; `problem` when several did. */
  get servers(): ServersSeen {
    return this.#servers
  }

  /** What the probes showed of the node's place in replication: its name upstream and its sync state. */
  observeReplication(applicationName: string | undefined, syncState: SyncState | undefined): void {
    this.#applicationName = applicationName
    this.#syncState = syncState
  }

  /** The servers seen answering on the node's connections (see {@link servers}). */
  observeServers(servers: ServersSeen): void {
    this.#servers = servers
  }
}
