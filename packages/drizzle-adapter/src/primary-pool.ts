import pg from 'pg'
import type { PgRouteRouterLike, PinnableClient } from './router-like.js'

type Callback<T> = (error: Error | null, result?: T) => void

/**
 * A `pg.Pool` whose every statement runs on the primary, on connections of `router.primary`, while its writes
 * still count for the read-your-writes guarantee of the current `router.session()` (a write on `router.primary`
 * alone would go unnoticed, and a later read of the session could hit a replica that has not replayed it):
 * - a statement the router would run on the primary anyway (a write, a locking read, …) goes through
 *   `router.pool.query()`, which tells the session;
 * - any other statement is a read, which the session need not know about: it runs on `router.primary` directly;
 * - `connect()` (Drizzle's transactions) hands out a router client pinned to the primary, which tells the session
 *   of each write it runs.
 *
 * It is a real `pg.Pool` subclass because Drizzle only runs a transaction on one `connect()`ed client when its
 * client is a pool. It owns no connections; `end()` ends the router, as `router.pool.end()` does.
 */
export class PrimaryPool extends pg.Pool {
  readonly #router: PgRouteRouterLike

  constructor(router: PgRouteRouterLike) {
    super({ max: router.primary.options?.max })
    this.#router = router
    const primary = router.primary
    // @types/pg declares these as properties of the base class, so they are defined here, not as accessors.
    Object.defineProperties(this, {
      totalCount: { get: () => primary.totalCount, configurable: true },
      idleCount: { get: () => primary.idleCount, configurable: true },
      waitingCount: { get: () => primary.waitingCount, configurable: true },
      expiredCount: { get: () => primary.expiredCount ?? 0, configurable: true },
    })
  }

  // biome-ignore lint/suspicious/noExplicitAny: mirrors pg.Pool#query's overloads (promise, callback).
  override query(query: any, valuesOrCallback?: any, callback?: any): any {
    const values = typeof valuesOrCallback === 'function' ? undefined : valuesOrCallback
    const done: Callback<pg.QueryResult> | undefined =
      typeof valuesOrCallback === 'function' ? valuesOrCallback : callback
    if (typeof query?.submit === 'function') {
      throw new TypeError('Submittable queries (cursors, streams) need a client: use `await pool.connect()`')
    }
    const text: unknown = typeof query === 'string' ? query : query?.text
    const pool =
      this.#router.classify(typeof text === 'string' ? text : '').target === 'primary'
        ? this.#router.pool
        : this.#router.primary
    const result: Promise<pg.QueryResult> = pool.query(query, values)
    if (!done) return result
    result.then(
      (r) => done(null, r),
      (error: Error) => done(error),
    )
    return undefined
  }

  // biome-ignore lint/suspicious/noExplicitAny: mirrors pg.Pool#connect's promise and callback forms.
  override connect(callback?: any): any {
    const connected = this.#lease()
    if (typeof callback !== 'function') return connected
    connected.then(
      (client) => callback(null, client, (error?: Error | boolean) => client.release(error)),
      (error: Error) => callback(error),
    )
    return undefined
  }

  // biome-ignore lint/suspicious/noExplicitAny: mirrors pg.Pool#end's promise and callback forms.
  override end(callback?: any): any {
    return this.#router.pool.end(callback)
  }

  async #lease(): Promise<PinnableClient> {
    const client = (await this.#router.pool.connect()) as PinnableClient
    try {
      await client.pin('primary')
    } catch (error) {
      client.release()
      throw error
    }
    return client
  }
}
