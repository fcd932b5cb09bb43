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
 * own pool.
 */
export class PrimaryPool extends RoutedPool {
  readonly #core: RouterCore

  /** @internal The pool is `router.primary`. */
  constructor(core: RouterCore) {
    super(core, 'primary')
    this.#core = core
  }

  override on(event: string | symbol, listener: Listener): this {
    if (POOL_EVENTS.has(event)) this.#core.primary.pool.on(event as 'error', listener)
    else super.on(event as 'error', listener)
    return this
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener)
  }

  override off(event: string | symbol, listener: Listener): this {
    if (POOL_EVENTS.has(event)) this.#core.primary.pool.off(event as 'error', listener)
    else super.off(event as 'error', listener)
    return this
  }

  override removeListener(event: string | symbol, listener: Listener): this {
    return this.off(event, listener)
  }
}
