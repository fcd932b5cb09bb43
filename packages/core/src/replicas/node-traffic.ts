import type pg from 'pg'
import { type DistanceChoice, isDistanceChoice } from './distance-choice.js'
import type { RunningStatement, WaitingCheckout } from './node-records.js'
import { SlotBag } from './slot-bag.js'

/**
 * Weight of a new round-trip sample in the node's moving average: a step change is 90 % absorbed after ten
 * samples (ten probes, ten seconds at the default interval), and one odd sample moves it a fifth of the way.
 */
const RTT_WEIGHT = 0.2

/** How many statements after each probe are timed as round-trip samples (see `NodeTraffic.began`). */
const TIMED_PER_PROBE = 16

/** The parts of pg-pool's `Pool` that tell how many of its connections are taken (a look-alike may lack them). */
interface PoolCounts {
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
}

/**
 * What passes through a node: the statements and checkouts on its connections, how many it served and how busy
 * it is, and its measured round-trip time. The router's statement path records here; replica choice (`balance`,
 * `'nearest'`), `status()` and metrics read it. {@link RouterNode} adds the node's health and role.
 */
export class NodeTraffic {
  /** What runs on the node's connections, so that it can be cancelled (time limit, node down). */
  readonly running = new SlotBag<RunningStatement>()
  /** Checkouts waiting for one of the node's connections (failed at once when the node goes down). */
  readonly waiting = new SlotBag<WaitingCheckout>()
  /** The most connections the node's pool opens (pg-pool's `max`): it is saturated with that many taken. */
  readonly poolMax: number
  readonly #pool: pg.Pool
  #inFlight = 0
  #served = 0
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

  constructor(pool: pg.Pool) {
    this.#pool = pool
    this.poolMax = (pool as { options?: pg.PoolConfig }).options?.max ?? 10
    this.#counted = typeof (pool as unknown as Partial<PoolCounts>).totalCount === 'number'
  }

  /** What runs on the node now: statements and transaction bodies. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Statements the node has completed. */
  get served(): number {
    return this.#served
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
    const pool = this.#pool as unknown as PoolCounts
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

  /** The replica refused a read as a write; it is re-run on the primary. */
  countRerouted(): void {
    this.#rerouted++
  }
}
