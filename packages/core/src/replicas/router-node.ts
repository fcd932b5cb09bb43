import type pg from 'pg'
import type { ReplicaInfo } from '../config/replica-info.js'
import type { NodeSpec } from '../config/resolved-options.js'
import { SlotBag, type Slotted } from './slot-bag.js'

/**
 * Health of a node as the router sees it:
 * - `unknown`: not probed yet (replicas get no reads until their first probe succeeds);
 * - `up`: reachable and, for a replica, in recovery on the cluster's timeline and within the lag bounds;
 * - `lagging`: a reachable replica beyond `lag.maxBytes` or `lag.maxSeconds`;
 * - `down`: unreachable, or a probe or statement failed with a connection error (re-probed with back-off);
 * - `fenced`: reachable but not part of the cluster's current history, so it gets no statements: it claims to
 *   be primary on an older timeline (or beside the primary), follows an older timeline, or has another system
 *   identifier. The reason says which. It leaves this state as soon as a probe finds it back in line.
 */
export type NodeState = 'unknown' | 'up' | 'lagging' | 'down' | 'fenced'

/** The role of a node, as observed: the primary, or any other node (a replica, or a fenced node). */
export type NodeRole = 'primary' | 'replica'

/** A statement running on one of a node's connections. */
export interface RunningStatement extends Slotted {
  readonly client: pg.PoolClient
  /** When it runs out of time, in ticks of the statement runner's time-limit timer; 0: no limit. */
  readonly deadline: number
  /** A transaction's body (its own statements on the connection), rather than one statement of the router's. */
  readonly body: boolean
}

/** A checkout waiting for one of a node's connections, and who waits for it. */
export interface WaitingCheckout extends Slotted {
  readonly waiter: { failed(error: unknown): void }
}

/** Called on every state change, with a reason fit for logs (no secrets). */
export type StateListener = (node: RouterNode, from: NodeState, reason: string) => void

/**
 * One node of the router: its pool plus live health, lag and traffic figures. Its role is observed by the health
 * monitor: the configuration only gives the first guess.
 */
export class RouterNode {
  readonly name: string
  /** `primary` for the one node the router sends writes to now, `replica` for every other. */
  role: NodeRole
  readonly weight: number
  readonly pool: pg.Pool
  readonly spec: NodeSpec

  state: NodeState = 'unknown'
  /** Bytes of WAL behind the primary (replicas), at the last probe. */
  lagBytes = 0
  /** Age in seconds of the oldest WAL not replayed yet (replicas), at the last probe. */
  lagSeconds = 0
  /** Last replayed WAL position (replicas) or current WAL position (primary), at the last probe or check. */
  lsn: bigint | undefined
  /** Last received WAL position (replicas). */
  receiveLsn: bigint | undefined
  /** When the last probe finished (epoch ms). */
  lastProbeAt: number | undefined
  /** Message of the last failure, scrubbed of secrets. */
  lastError: string | undefined
  /** The last failure itself (the `cause` of errors raised because the node is down). */
  lastFailure: unknown
  /**
   * Until when (epoch ms) reads avoid this node because it had no connection slot free (busy, not down); 0: not
   * cooling off. Set by the read path, cleared by the first read that finds it over.
   */
  coolUntil = 0
  /** Consecutive probe or connection failures; drives the re-probe back-off. */
  failures = 0
  /** Timeline the node is on (primary) or streams (replica), at the last probe that could tell. */
  timeline: number | undefined
  /** The node's system identifier (`pg_control_system()`), once read. */
  systemId: string | undefined
  /** Why the node is in its current state (the reason of the last state change). */
  reason: string | undefined
  /**
   * What marked the node down: a failed `probe` (confirmed), or a `statement` that failed with a connection error
   * (suspected until the re-probe, a few hundred milliseconds later, confirms or clears it).
   */
  downBy: 'probe' | 'statement' | undefined
  /** Set once the node was removed from the router: it takes no new statements. */
  removed = false

  /** Statements running on the node's connections, so that they can be cancelled (time limit, node down). */
  readonly running = new SlotBag<RunningStatement>()
  /** Checkouts waiting for one of the node's connections (failed at once when the node goes down). */
  readonly waiting = new SlotBag<WaitingCheckout>()

  inFlight = 0
  served = 0
  errors = 0
  /** Reads this replica refused as writes (SQLSTATE 25006) that were re-run on the primary. */
  rerouted = 0

  /** A read-only view handed to balancing strategies, allocated once. */
  readonly info: ReplicaInfo

  readonly #onStateChange: StateListener

  constructor(spec: NodeSpec, onStateChange: StateListener) {
    this.spec = spec
    this.name = spec.name
    this.role = spec.role
    this.weight = spec.weight
    this.pool = spec.pool
    this.#onStateChange = onStateChange
    const node = this
    this.info = Object.freeze({
      name: spec.name,
      weight: spec.weight,
      get lagBytes() {
        return node.lagBytes
      },
      get lagSeconds() {
        return node.lagSeconds
      },
      get inFlight() {
        return node.inFlight
      },
      get served() {
        return node.served
      },
    })
  }

  /** Whether the node may take statements of its role now. */
  get usable(): boolean {
    return this.state === 'up' && !this.removed
  }

  /** Moves to `state`, notifying the listener only on an actual change. */
  setState(state: NodeState, reason: string): void {
    if (state === this.state) {
      // A fenced node keeps its state but its reason may change (say, a newer timeline appeared).
      if (state === 'fenced') this.reason = reason
      return
    }
    const from = this.state
    this.state = state
    this.reason = reason
    this.#onStateChange(this, from, reason)
  }
}
