import type pg from 'pg'
import type { ReplicaInfo } from '../config/replica-info.js'
import type { NodeSpec } from '../config/resolved-options.js'
import { hideClient } from '../errors.js'
import type { NodeReading, NodeRole, NodeState, ServersSeen, SyncState } from './node-records.js'
import { NodeTraffic } from './node-traffic.js'

export type {
  NodeReading,
  NodeRole,
  NodeState,
  RunningStatement,
  ServersSeen,
  SyncState,
  WaitingCheckout,
} from './node-records.js'

const NO_SERVERS: ServersSeen = Object.freeze({ count: 0, problem: undefined })

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
 * One node of the router: its pool plus live health and lag, and the traffic figures of {@link NodeTraffic}. Its role is observed by the health
 * monitor (the configuration only gives the first guess) and assigned by its {@link NodeSet}. Everything it
 * knows changes through its own methods, each named for the event it records.
 */
export class RouterNode extends NodeTraffic {
  readonly name: string
  readonly weight: number
  readonly pool: pg.Pool
  readonly spec: NodeSpec
  /** The zone the node runs in, as configured (`undefined`: not given). */
  readonly zone: string | undefined
  /** A read-only view handed to balancing strategies, allocated once. */
  readonly info: ReplicaInfo

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
  #errors = 0

  constructor(spec: NodeSpec, owner: NodeOwner) {
    super(spec.pool)
    this.spec = spec
    this.name = spec.name
    this.#role = spec.role
    this.weight = spec.weight
    this.pool = spec.pool
    this.zone = spec.zone
    this.#owner = owner
    const node = this
    this.info = Object.freeze({
      name: spec.name,
      weight: spec.weight,
      zone: spec.zone,
      get rttMs() {
        return node.rttMs
      },
      get lagBytes() {
        return node.#lagBytes
      },
      get lagSeconds() {
        return node.#lagSeconds
      },
      get inFlight() {
        return node.inFlight
      },
      get served() {
        return node.served
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

  /** Connection and probe failures. */
  get errors(): number {
    return this.#errors
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
