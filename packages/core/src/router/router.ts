import { EventEmitter } from 'node:events'
import type pg from 'pg'
import type { Classification, LearnedReason } from '../classify/index.js'
import { resolveOptions } from '../config/resolve-options.js'
import type { RouterOptions } from '../config/router-options.js'
import { ConfigError, PgRouteError } from '../errors.js'
import { formatLsn } from '../health/lsn.js'
import { RoutedClient } from '../pool/routed-client.js'
import { RoutedPool } from '../pool/routed-pool.js'
import { traceToCaller } from '../routing/database-errors.js'
import { CausalSession, formatToken, parseToken } from '../session/causal-session.js'
import { RouterCore } from './router-core.js'
import type { RouterEvents } from './router-events.js'
import type { NodeStatus } from './router-status.js'

/** Options of {@link Router.transaction}. */
export interface TransactionOptions {
  /** `BEGIN READ ONLY` on a replica (honouring read-your-writes) instead of the primary. Default false. */
  readonly readOnly?: boolean
  /** Isolation level. Default: the server's (`read committed`). */
  readonly isolationLevel?: 'read committed' | 'repeatable read' | 'serializable'
  /** `DEFERRABLE` (only meaningful with `readOnly` and `serializable`). */
  readonly deferrable?: boolean
}

/** Options of {@link Router.session}. */
export interface SessionOptions {
  /** A token from `router.token()` of an earlier scope (a cookie, header or job payload) to continue from. */
  readonly token?: string
}

const ISOLATION_LEVELS = ['read committed', 'repeatable read', 'serializable']

/**
 * Routes each statement to the primary or the best replica. Create it with {@link createRouter}.
 *
 * Events (see {@link RouterEvents}): `node-state`, `route` (opt-in), `reroute`. The router never emits `error`.
 */
export class Router extends EventEmitter<RouterEvents> {
  /**
   * A `pg.Pool` (a real subclass) that routes every query: hand it to any pg-based library. Its `connect()`
   * gives clients that pin their node at the first statement. Ending it ends the router.
   */
  readonly pool: RoutedPool
  /**
   * The primary's own pool: statements on it always go to the primary, bypassing the router. Sessions do not see
   * writes made through it; inside `router.session()`, write through `query()`, `pool`, or a client pinned with
   * `pin('primary')` instead.
   */
  readonly primary: pg.Pool

  readonly #core: RouterCore
  #ended: Promise<void> | undefined

  constructor(options: RouterOptions) {
    super()
    const resolved = resolveOptions(options)
    this.#core = new RouterCore(resolved, {
      onStateChange: (node, from, reason) =>
        this.emit('node-state', { node: node.name, role: node.role, from, to: node.state, reason }),
      onRoute: resolved.routeEvents ? (event) => this.emit('route', event) : undefined,
      onReroute: (event) => this.emit('reroute', event),
    })
    this.primary = this.#core.primary.pool
    this.pool = new RoutedPool(this, this.#core)
  }

  /** Resolves once every node has been probed once, so replicas can take reads. */
  async ready(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options
    if (!signal) return this.#core.monitor.ready()
    signal.throwIfAborted()
    let onAbort: (() => void) | undefined
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () =>
        reject(new PgRouteError('PGROUTE_ABORTED', 'router.ready() was aborted', { cause: signal.reason }))
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      await Promise.race([this.#core.monitor.ready(), aborted])
    } finally {
      signal.removeEventListener('abort', onAbort!)
    }
  }

  /**
   * Runs one statement on the node its text calls for: reads on a replica (within the lag bounds, having seen
   * the current session's writes), everything else on the primary. Results and errors are `pg`'s own.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    query: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const core = this.#core
    core.assertOpen()
    const text = typeof query === 'string' ? query : query.text
    const classification = core.classify(text)
    try {
      const outcome =
        classification.target === 'replica' && core.replicas.length > 0
          ? await core.read<R>(text, query, values)
          : await core.write<R>(query, values, false, classification.reason)
      return outcome.value
    } catch (error) {
      // Settled in pg's callbacks: give the error a stack trace that leads back to the caller, as pg does.
      traceToCaller(error)
      throw error
    }
  }

  /** A client that pins its node at its first statement (see {@link RoutedClient}). Release it when done. */
  async connect(): Promise<RoutedClient> {
    this.#core.assertOpen()
    return new RoutedClient(this.#core)
  }

  /**
   * Runs `fn` in a transaction on one connection: a replica for `readOnly` transactions, else the primary.
   * Commits when `fn` resolves, rolls back (and rethrows) when it rejects. Don't release the client yourself.
   *
   * @example
   * ```ts
   * const total = await router.transaction(async (client) => {
   *   const { rows } = await client.query('SELECT sum(amount) FROM orders')
   *   return rows[0].sum
   * }, { readOnly: true, isolationLevel: 'repeatable read' })
   * ```
   */
  async transaction<T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const core = this.#core
    core.assertOpen()
    const { readOnly = false, isolationLevel, deferrable = false } = options
    if (typeof readOnly !== 'boolean') throw new ConfigError('readOnly', 'expected a boolean')
    if (typeof deferrable !== 'boolean') throw new ConfigError('deferrable', 'expected a boolean')
    if (isolationLevel !== undefined && !ISOLATION_LEVELS.includes(isolationLevel)) {
      throw new ConfigError(
        'isolationLevel',
        `expected one of ${ISOLATION_LEVELS.map((l) => `'${l}'`).join(', ')}`,
      )
    }
    const begin = [
      'BEGIN',
      isolationLevel && `ISOLATION LEVEL ${isolationLevel.toUpperCase()}`,
      readOnly ? 'READ ONLY' : 'READ WRITE',
      deferrable && 'DEFERRABLE',
    ]
      .filter(Boolean)
      .join(' ')
    // Only BEGIN is retried elsewhere on a connection failure: `fn` runs once.
    const { lease } =
      readOnly && core.replicas.length > 0
        ? await core.read(begin, begin, undefined, true)
        : await core.write(begin, undefined, true)
    const session = core.sessions.getStore()
    /** Set when not even ROLLBACK works: the connection is then destroyed, not pooled. */
    let broken: unknown
    try {
      const value = await core.run(lease, fn)
      await core.execute(lease, 'COMMIT', undefined)
      return value
    } catch (error) {
      await lease.client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError
      })
      throw error
    } finally {
      core.release(lease, broken)
      if (lease.node.role === 'primary' && !readOnly) session?.markWrite()
    }
  }

  /**
   * Runs `fn` in a read-your-writes scope: once a statement of the scope has written, its later reads go only
   * to replicas that have replayed that write (else to the primary). Nested calls join the outer scope.
   * Pass `token` to continue a scope of an earlier request or another process.
   *
   * @example
   * ```ts
   * app.use((req, res, next) => router.session(next, { token: req.get('x-pgroute-token') }))
   * ```
   */
  session<T>(fn: () => T | Promise<T>, options: SessionOptions = {}): Promise<T> {
    let floor: bigint | undefined
    try {
      floor = options.token === undefined ? undefined : parseToken(options.token)
    } catch (error) {
      return Promise.reject(error)
    }
    const current = this.#core.sessions.getStore()
    if (current) {
      if (floor !== undefined) current.observe(floor)
      return Promise.resolve().then(fn)
    }
    return this.#core.sessions.run(new CausalSession(floor), async () => fn())
  }

  /**
   * The current scope's causal token: the WAL position its reads must see, to carry to a later request (cookie,
   * header, job payload) and pass to `session(fn, { token })`. `undefined` outside a session or before any
   * write. May ask the primary for its WAL position (once per burst of writes).
   */
  async token(): Promise<string | undefined> {
    const session = this.#core.sessions.getStore()
    if (!session) return undefined
    const lsn = await session.required(this.#core.fetchPrimaryLsn)
    return lsn === undefined ? undefined : formatToken(lsn)
  }

  /** Classifies `sql` with this router's settings (`writeFunctions`). */
  classify(sql: string): Classification {
    return this.#core.classify(sql)
  }

  /** One row per node, primary first: state, lag, WAL position and traffic. Never contains credentials. */
  status(): NodeStatus[] {
    return [this.#core.primary, ...this.#core.replicas].map((node) => ({
      name: node.name,
      role: node.role,
      state: node.state,
      healthy: node.state === 'up',
      lagBytes: node.lagBytes,
      lagSeconds: node.lagSeconds,
      lsn: node.lsn === undefined ? null : formatLsn(node.lsn),
      receiveLsn: node.receiveLsn === undefined ? null : formatLsn(node.receiveLsn),
      inFlight: node.inFlight,
      served: node.served,
      errors: node.errors,
      rerouted: node.rerouted,
      lastProbeAt: node.lastProbeAt === undefined ? null : new Date(node.lastProbeAt).toISOString(),
      lastError: node.lastError ?? null,
    }))
  }

  /**
   * Statements that replicas refused as writes (and that were re-run on the primary), with counts, newest
   * last: the functions they call are candidates for the `writeFunctions` option. `learned` is set while the
   * router sends the text straight to the primary (`learnRouting`), with the replica's reason.
   */
  reroutedStatements(): Array<{ statement: string; count: number; learned?: LearnedReason }> {
    const learned = new Map(this.#core.learned?.entries().map((route) => [route.statement, route.reason]))
    return [...this.#core.rerouted].map(([statement, count]) => {
      const reason = learned.get(statement)
      return reason === undefined ? { statement, count } : { statement, count, learned: reason }
    })
  }

  /**
   * Stops health checks and closes every pool the router created (pools passed in stay open: their owner ends
   * them). Waits for checked-out connections to be released. Idempotent.
   */
  end(): Promise<void> {
    this.#ended ??= (async () => {
      const core = this.#core
      core.closed = true
      await core.monitor.stop()
      await Promise.all(
        [core.primary, ...core.replicas].filter((node) => node.spec.ownsPool).map((node) => node.pool.end()),
      )
      core.detachPools()
    })()
    return this.#ended
  }
}

/**
 * Creates a {@link Router}. Options are validated here: a bad value throws a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * import { createRouter } from '@pgroute/core'
 *
 * const router = createRouter({
 *   primary: process.env.DATABASE_URL,
 *   replicas: [process.env.REPLICA_1_URL, { name: 'db-3', connectionString: process.env.REPLICA_2_URL, weight: 2 }],
 *   lag: { maxBytes: 16 * 1024 * 1024, maxSeconds: 10 },
 * })
 * await router.ready()
 * const { rows } = await router.query('SELECT * FROM posts WHERE id = $1', [1]) // a replica
 * await router.query('INSERT INTO posts (title) VALUES ($1)', ['hello'])        // the primary
 * ```
 */
export function createRouter(options: RouterOptions): Router {
  return new Router(options)
}
