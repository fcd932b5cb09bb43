import pg from 'pg'
import type { RouteOptions } from '../core/route-types.js'
import type { RouterCore } from '../core/router-core.js'
import { type ConnectCallback, poolConnect, poolQuery, settle } from './pg-pool-callbacks.js'
import { RoutedClient } from './routed-client.js'

const ON_PRIMARY: RouteOptions = Object.freeze({ primary: true })

async function pinned(client: RoutedClient): Promise<pg.PoolClient> {
  try {
    await client.pin('primary')
  } catch (error) {
    client.release()
    throw error
  }
  return client as unknown as pg.PoolClient
}

/**
 * A real `pg.Pool` subclass (so `instanceof pg.Pool` holds, which Drizzle checks before it uses `connect()` for
 * transactions) whose every query is routed: `query()` picks a node per statement, `connect()` hands out a
 * {@link RoutedClient} that pins its node at its first statement. It owns no connections itself: each node's
 * pool does. `end()` ends the router.
 *
 * @example
 * ```ts
 * import { drizzle } from 'drizzle-orm/node-postgres'
 * const db = drizzle(router.pool)
 * ```
 */
export class RoutedPool extends pg.Pool {
  readonly #core: RouterCore
  readonly #routing: RouteOptions | undefined

  /**
   * @internal The pool is `router.pool` (`scope` `'routed'`) or `router.primary` (`'primary'`: every statement on
   * the primary, its clients pinned there).
   */
  constructor(core: RouterCore, scope: 'routed' | 'primary' = 'routed') {
    // The base pool never connects; its own options only matter to code that reads `pool.options`.
    super({ max: core.primary.pool.options.max })
    this.#core = core
    this.#routing = scope === 'primary' ? ON_PRIMARY : undefined
    const nodes = () => (scope === 'primary' ? [core.primary] : core.nodes.all)
    const sum = (pick: (pool: pg.Pool) => number) =>
      nodes().reduce((total, node) => total + pick(node.pool), 0)
    // @types/pg declares these as properties of the base class, so they are defined here, not as accessors.
    Object.defineProperties(this, {
      totalCount: { get: () => sum((pool) => pool.totalCount), configurable: true },
      idleCount: { get: () => sum((pool) => pool.idleCount), configurable: true },
      waitingCount: { get: () => sum((pool) => pool.waitingCount), configurable: true },
      expiredCount: { get: () => sum((pool) => pool.expiredCount ?? 0), configurable: true },
    })
    // `router.primary` stands for the primary's own pool: it has ended when that pool has.
    if (scope === 'primary') {
      Object.defineProperty(this, 'ended', { get: () => core.primary.pool.ended, configurable: true })
    }
  }

  /** Submittables (cursors, streams) need a pinned connection: this throws; use `await pool.connect()`. */
  override query<T extends pg.Submittable>(queryStream: T): T
  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own defaults.
  override query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>
  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own defaults.
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryConfig: pg.QueryConfig<I>,
  ): Promise<pg.QueryResult<R>>
  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own defaults.
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>
  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own defaults.
  override query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void
  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own defaults.
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void
  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own defaults.
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void
  // biome-ignore lint/suspicious/noExplicitAny: the implementation behind pg.Pool#query's overloads.
  override query(query: any, valuesOrCallback?: any, callback?: any): any {
    return poolQuery(this.#run, query, valuesOrCallback, callback)
  }

  readonly #run = (query: string | pg.QueryConfig, values: unknown[] | undefined): Promise<pg.QueryResult> =>
    this.#core.query(query, values, this.#routing)

  /** A {@link RoutedClient} (typed as `pg.PoolClient`, as ORMs expect) that pins its node at its first statement. */
  override connect(): Promise<pg.PoolClient>
  override connect(
    callback: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own signature.
      done: (release?: any) => void,
    ) => void,
  ): void
  // biome-ignore lint/suspicious/noExplicitAny: the implementation behind pg.Pool#connect's overloads.
  override connect(callback?: ConnectCallback): any {
    let connecting: Promise<pg.PoolClient>
    try {
      this.#core.assertOpen()
      const client = new RoutedClient(this.#core)
      connecting = this.#routing === ON_PRIMARY ? pinned(client) : Promise.resolve(client as never)
    } catch (error) {
      connecting = Promise.reject(error)
    }
    return poolConnect(connecting, callback)
  }

  /** Ends the router (see `router.end()`). */
  override end(): Promise<void>
  override end(callback: () => void): void
  // biome-ignore lint/suspicious/noExplicitAny: the implementation behind pg.Pool#end's overloads.
  override end(callback?: () => void): any {
    return settle(this.#core.close(), callback)
  }
}
