import type { ResolvedOptions } from '../config/resolved-options.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'

type ScheduleOptions = ResolvedOptions['healthCheck']

/**
 * When the health monitor probes: a round of every node each `healthCheck.intervalMs` while the router is active,
 * each `healthCheck.idleIntervalMs` while it is idle (then the data is marked stale once older than `intervalMs`,
 * so that the next statement waits for a fresh round), a round at once for a caller that needs fresh data (shared
 * with the one running), and re-probes of a failed node with exponential back-off.
 */
export class ProbeScheduler {
  readonly #nodes: NodeSet
  readonly #options: ScheduleOptions
  readonly #round: () => Promise<void>
  #roundTimer: NodeJS.Timeout | undefined
  /** The round running now, if any: callers who need fresh data share it. */
  #running: Promise<void> | undefined
  /** Set while the router is idle and the latest round is older than `healthCheck.intervalMs`. */
  #stale = false
  #staleTimer: NodeJS.Timeout | undefined
  /** When the router last ran a statement, as far as the rounds could tell (`Date.now()`). */
  #activeAt = Date.now()
  /** Statements completed and running at the end of the last round: a change is activity. */
  #traffic = -1
  readonly #reprobes = new Map<RouterNode, NodeJS.Timeout>()
  #stopped = false

  /**
   * @param round Probes every node and judges them; it calls {@link next} once it has judged (not after
   *   {@link stop}).
   */
  constructor(nodes: NodeSet, options: ScheduleOptions, round: () => Promise<void>) {
    this.#nodes = nodes
    this.#options = options
    this.#round = round
  }

  /** Whether {@link stop} was called. */
  get stopped(): boolean {
    return this.#stopped
  }

  /** See {@link HealthMonitor.stale}. */
  get stale(): boolean {
    return this.#stale
  }

  /** A statement is coming: the router is active again. Resolves once a round started now (or running) ends. */
  fresh(): Promise<void> {
    this.#activeAt = Date.now()
    return this.#roundNow()
  }

  /** Starts a round now if the data is stale, without waiting for it; not activity. */
  kick(): void {
    if (this.#stale && !this.#stopped) void this.#roundNow()
  }

  /** Starts a round now (the first one); resolves once it ends. */
  start(): Promise<void> {
    const running = this.#round().finally(() => {
      if (this.#running === running) this.#running = undefined
    })
    this.#running = running
    return running
  }

  /**
   * Schedules the next round, at the end of one: in `healthCheck.intervalMs` while the router is active (it ran a
   * statement within `healthCheck.idleAfterMs`), else in `healthCheck.idleIntervalMs`; then the data is marked
   * stale once it is older than `intervalMs`.
   */
  next(): void {
    const { intervalMs, idleAfterMs, idleIntervalMs } = this.#options
    const now = Date.now()
    // Statements completed since the last round, or running now: the router is active.
    let traffic = 0
    let running = false
    for (const node of this.#nodes.all) {
      traffic += node.served
      if (node.inFlight > 0) running = true
    }
    if (running || traffic !== this.#traffic) this.#activeAt = now
    this.#traffic = traffic
    const idle = idleIntervalMs > intervalMs && now - this.#activeAt >= idleAfterMs
    clearTimeout(this.#staleTimer)
    this.#stale = false
    if (idle) {
      this.#staleTimer = setTimeout(() => {
        this.#stale = true
      }, intervalMs)
      this.#staleTimer.unref()
    }
    this.#roundTimer = setTimeout(() => void this.start(), idle ? idleIntervalMs : intervalMs)
    this.#roundTimer.unref()
  }

  /**
   * Runs `reprobe` for `node` after an exponential back-off from 100 ms to `healthCheck.maxBackoffMs` (by its
   * failures in a row); one pending re-probe per node.
   */
  backOff(node: RouterNode, reprobe: () => Promise<void>): void {
    if (this.#reprobes.has(node) || this.#stopped) return
    const delay = Math.min(this.#options.maxBackoffMs, 100 * 2 ** Math.min(node.failures - 1, 16))
    const timer = setTimeout(async () => {
      this.#reprobes.delete(node)
      await reprobe()
    }, delay)
    timer.unref()
    this.#reprobes.set(node, timer)
  }

  /** Drops `node`'s pending re-probe (it left the router). */
  forget(node: RouterNode): void {
    clearTimeout(this.#reprobes.get(node))
    this.#reprobes.delete(node)
  }

  /** Schedules nothing more; resolves once the round running now (if any) ends. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#roundTimer)
    clearTimeout(this.#staleTimer)
    for (const timer of this.#reprobes.values()) clearTimeout(timer)
    this.#reprobes.clear()
    await this.#running?.catch(() => {})
  }

  /** A round now: the one running, else a new one (the next scheduled one is rescheduled after it). */
  #roundNow(): Promise<void> {
    if (this.#running !== undefined) return this.#running
    clearTimeout(this.#roundTimer)
    return this.start()
  }
}
