import type pg from 'pg'
import type { RouterCore } from '../core/router-core.js'
import { RoutedPool } from './routed-pool.js'

/** pg-pool's events: listeners for them go to the primary's own pool, which has the connections. */
const POOL_EVENTS: ReadonlySet<string | symbol> = new Set([
  'connect',
  'acquire',
  'release',
  'remove',
  'error',
])

// biome-ignore lint/suspicious/noExplicitAny: pg-pool's listeners take different arguments per event.
type Listener = (...args: any[]) => void

/**
 * `router.primary`: a {@link RoutedPool} whose statements all run on the primary, telling the session of their
 * writes, and whose pool events (`connect`, `acquire`, `release`, `remove`, `error`) are those of the primary's
 * own pool: of the new primary's after a failover.
 */
export class PrimaryPool extends RoutedPool {
  readonly #core: RouterCore
  /** Listeners of pool events, kept to move them to the new primary's pool after a failover. */
  readonly #poolListeners: Array<readonly [event: string | symbol, listener: Listener]> = []
  #pool: pg.Pool

  /** @internal The pool is `router.primary`. */
  constructor(core: RouterCore) {
    super(core, 'primary')
    this.#core = core
    this.#pool = core.primary.pool
  }

  /** @internal Moves the pool event listeners to the current primary's pool (after a failover). */
  followPrimary(): void {
    const pool = this.#core.primary.pool
    if (pool === this.#pool) return
    for (const [event, listener] of this.#poolListeners) {
      this.#pool.off(event as 'error', listener)
      pool.on(event as 'error', listener)
    }
    this.#pool = pool
  }

  override on(event: string | symbol, listener: Listener): this {
    if (POOL_EVENTS.has(event)) {
      this.#pool.on(event as 'error', listener)
      this.#poolListeners.push([event, listener])
    } else super.on(event as 'error', listener)
    return this
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener)
  }

  override off(event: string | symbol, listener: Listener): this {
    if (POOL_EVENTS.has(event)) {
      this.#pool.off(event as 'error', listener)
      const at = this.#poolListeners.findIndex(([e, l]) => e === event && l === listener)
      if (at !== -1) this.#poolListeners.splice(at, 1)
    } else super.off(event as 'error', listener)
    return this
  }

  override removeListener(event: string | symbol, listener: Listener): this {
    return this.off(event, listener)
  }
}
