import type pg from 'pg'
import type { ReplicaInfo } from '../config/replica-info.js'
import type { NodeSpec } from '../config/resolved-options.js'

/**
 * Health of a node as the router sees it:
 * - `unknown`: not probed yet (replicas get no reads until their first probe succeeds);
 * - `up`: reachable and, for a replica, in recovery and within the lag bounds;
 * - `lagging`: a reachable replica beyond `lag.maxBytes` or `lag.maxSeconds`;
 * - `down`: unreachable, or a probe or statement failed with a connection error (re-probed with back-off);
 * - `promoted`: a replica that is no longer in recovery: it is not following the primary any more.
 */
export type NodeState = 'unknown' | 'up' | 'lagging' | 'down' | 'promoted'

/** Called on every state change, with a reason fit for logs (no secrets). */
export type StateListener = (node: RouterNode, from: NodeState, reason: string) => void

/** One node of the router: its pool plus live health, lag and traffic figures. */
export class RouterNode {
  readonly name: string
  readonly role: 'primary' | 'replica'
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

  /**
   * Statements running on the node's connections, with their deadline (in ticks of the statement runner's
   * time-limit timer; Infinity: none), so that they can be cancelled when it runs out or the node goes down.
   */
  readonly running = new Map<pg.PoolClient, number>()
  /** Checkouts waiting for one of the node's connections (failed at once when the node goes down). */
  readonly waiting = new Set<object>()

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
    return this.state === 'up'
  }

  /** Moves to `state`, notifying the listener only on an actual change. */
  setState(state: NodeState, reason: string): void {
    if (state === this.state) return
    const from = this.state
    this.state = state
    this.#onStateChange(this, from, reason)
  }
}
