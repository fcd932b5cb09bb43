import { EventEmitter } from 'node:events'
import pg from 'pg'
import { ON_PRIMARY, ROUTE, type RouteOptions } from '../core/route-options.js'
import type { RouterCore } from '../core/router-core.js'
import type { Submittable } from '../core/submittable.js'
import { type ConnectCallback, poolConnect, poolQuery, settle } from './pg-pool-callbacks.js'
import { PoolEventRelay } from './pool-event-relay.js'
import { RoutedClient } from './routed-client.js'

/** pg-pool's events, passed on from the pools of the nodes. */
const POOL_EVENTS: ReadonlySet<string | symbol> = new Set([
  'connect',
  'acquire',
  'release',
  'remove',
  'error',
])

/**
 * The `host` of `router.pool` taken for a connection config: a library whose copy of pg does not recognise it as a
 * `pg.Pool` copies its properties into a new pool (pg-pool does `Object.assign({}, config)`), which would connect
 * to localhost. With this host, pg tries a socket directory that cannot exist, and the error names the cause.
 */
const NOT_A_CONFIG_HOST =
  '/router.pool is a pgroute pool, not a connection config: two copies of pg are installed, see npm ls pg'

/**
 * A real `pg.Pool` subclass (so `instanceof pg.Pool` holds, which Drizzle checks before it uses `connect()` for
 * transactions) whose every query is routed: `query()` picks a node per statement, `connect()` hands out a
 * {@link RoutedClient} that pins its node at its first statement. It owns no connections itself: each node's
 * pool does. `end()` ends the router.
 *
 * Events: pg-pool's `connect`, `acquire`, `release`, `remove` and `error`, of the connections of every node's pool
 * (nodes added later included; `router.primary`: the current primary's only), with pg-pool's arguments (the
 * `pg.Client`; for `release` and `error`, the error first) and the node's name last.
 *
 * @example
 * ```ts
 * import { drizzle } from 'drizzle-orm/node-postgres'
 * const db = drizzle(router.pool)
 * ```
 */
export class RoutedPool extends pg.Pool {
  readonly #core: RouterCore
  readonly #options: RouteOptions

  /**
   * @internal The pool is `router.pool` (`scope` `'routed'`) or `router.primary` (`'primary'`: every statement on
   * the primary, its clients pinned there).
   */
  constructor(core: RouterCore, scope: 'routed' | 'primary' = 'routed') {
    // The base pool never connects; its own options only matter to code that reads `pool.options`.
    super({ max: core.primary.pool.options.max })
    this.#core = core
    this.#options = scope === 'primary' ? ON_PRIMARY : ROUTE
    const nodes = () => (scope === 'primary' ? [core.primary] : core.nodes.all)
    const sum = (pick: (pool: pg.Pool) => number) =>
      nodes().reduce((total, node) => total + pick(node.pool), 0)
    // @types/pg declares these as properties of the base class, so they are defined here, not as accessors.
    Object.defineProperties(this, {
      totalCount: { get: () => sum((pool) => pool.totalCount), configurable: true },
      idleCount: { get: () => sum((pool) => pool.idleCount), configurable: true },
      waitingCount: { get: () => sum((pool) => pool.waitingCount), configurable: true },
      expiredCount: { get: () => sum((pool) => pool.expiredCount ?? 0), configurable: true },
      host: { value: NOT_A_CONFIG_HOST, enumerable: true },
    })
    // `router.primary` stands for the primary's own pool: it has ended when that pool has.
    if (scope === 'primary') {
      Object.defineProperty(this, 'ended', { get: () => core.primary.pool.ended, configurable: true })
    }
    const relay = new PoolEventRelay(core, this, scope === 'primary')
    EventEmitter.prototype.on.call(this, 'newListener', (event: string | symbol) => {
      if (typeof event === 'string' && POOL_EVENTS.has(event)) relay.relay(event)
    })
  }

  /** Runs a statement on the node its text calls for; a submittable (cursor, stream) as pg.Pool runs it. */
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

  readonly #run = (
    query: string | pg.QueryConfig | Submittable,
    values: unknown[] | undefined,
  ): Promise<pg.QueryResult> => this.#core.route(query, values, this.#options)

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
      const client = new RoutedClient(this.#core)
      connecting = this.#options === ON_PRIMARY ? pinned(client) : Promise.resolve(client as never)
    } catch (error) {
      connecting = Promise.reject(error)
    }
    return poolConnect(connecting, callback)
  }

  /**
   * Listens to pg-pool's events of the nodes' connections (see the class), or to any other event. The node's name
   * comes after pg-pool's arguments.
   */
  override on(
    event: 'release' | 'error',
    listener: (err: Error, client: pg.PoolClient, node: string) => void,
  ): this
  override on(
    event: 'connect' | 'acquire' | 'remove',
    listener: (client: pg.PoolClient, node: string) => void,
  ): this
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  override on(event: string | symbol, listener: (...args: any[]) => void): this
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event as 'connect', listener)
  }

  /** Ends the router (see `router.end()`). */
  override end(): Promise<void>
  override end(callback: () => void): void
  // biome-ignore lint/suspicious/noExplicitAny: the implementation behind pg.Pool#end's overloads.
  override end(callback?: () => void): any {
    return settle(this.#core.close(), callback)
  }
}

/** A client of `router.primary`: pinned to the primary at once. */
async function pinned(client: RoutedClient): Promise<pg.PoolClient> {
  try {
    await client.pin('primary')
  } catch (error) {
    client.release()
    throw error
  }
  return client as unknown as pg.PoolClient
}
