import { EventEmitter } from 'node:events'
import type pg from 'pg'
import type { Classification } from '../classify/index.js'
import { addedNodeSpecs } from '../config/node-spec.js'
import { resolveOptions } from '../config/resolve-options.js'
import type { ReplicaInput, RouterOptions } from '../config/router-options.js'
import type { RejectedStatement } from '../core/rejection-log.js'
import { RouterCore } from '../core/router-core.js'
import type { Submittable } from '../core/submittable.js'
import { PgRouteError } from '../errors.js'
import { EventTracer, RouteEventTracer } from '../observability/event-tracer.js'
import { loadOpenTelemetry } from '../observability/open-telemetry-loader.js'
import type { RouterEvents } from '../observability/router-events.js'
import { RouterLog } from '../observability/router-logger.js'
import { RouterTelemetry } from '../observability/router-telemetry.js'
import { combineTracers } from '../observability/router-tracer.js'
import { RoutedClient } from '../pool/routed-client.js'
import { RoutedPool } from '../pool/routed-pool.js'
import type { CausalSession } from '../session/causal-session.js'
import { openSession, SessionHandle, type SessionOptions, tokenOf } from '../session/session-handle.js'
import {
  isLastingFailure,
  nextProbe,
  takesWrites,
  throwIfAborted,
  untilAborted,
} from './primary-readiness.js'
import { healthOf, type RouterHealth, writerProblemOf } from './router-health.js'
import { type NodeStatus, statusOf } from './router-status.js'
import { runTransaction, type TransactionOptions } from './transaction-runner.js'

/**
 * Routes each statement to the primary or the best replica. Create it with {@link createRouter}.
 *
 * Events (see {@link RouterEvents}): `node-state`, `primary-changed`, `cluster-replaced`, `writes-lost`, `route`
 * (opt-in), `reroute`. The router never emits `error`.
 */
export class Router extends EventEmitter<RouterEvents> {
  /**
   * A `pg.Pool` (a real subclass) that routes every query: hand it to any pg-based library. Its `connect()`
   * gives clients that pin their node at the first statement. Ending it ends the router.
   */
  readonly pool: RoutedPool
  /**
   * A `pg.Pool` whose every statement runs on the primary (on connections of the primary's own pool, whose
   * events it passes on), for reads that must be current and for migrations. Writes through it count for the
   * current `router.session()` like any other; its `connect()` gives clients pinned to the primary. Ending it
   * ends the router.
   */
  readonly primary: RoutedPool

  readonly #core: RouterCore

  constructor(options: RouterOptions) {
    super()
    const resolved = resolveOptions(options)
    const api = resolved.openTelemetry ? loadOpenTelemetry() : undefined
    // The router's observers, as one tracer of the core: metrics first, then logs, then the events.
    const tracer = combineTracers([
      api && new RouterTelemetry(api, () => this.#core.nodes.all),
      resolved.logger && new RouterLog(resolved.logger, (text) => this.#core.scrub(text)),
      new EventTracer(this),
      resolved.routeEvents ? new RouteEventTracer(this) : undefined,
    ])
    this.#core = new RouterCore(resolved, tracer)
    this.primary = new RoutedPool(this.#core, 'primary')
    this.pool = new RoutedPool(this.#core)
  }

  /**
   * Resolves once every node has been probed once (so replicas can take reads) and the primary can take writes.
   * Rejects with a `PgRouteError` of code `PGROUTE_PRIMARY_UNAVAILABLE` when it cannot: unreachable, login
   * refused (the driver's error is the `cause`), or in recovery (a standby). After a probe that timed out or
   * could not connect, it waits for the primary's re-probe (within `healthCheck.maxBackoffMs`) before deciding.
   * Replicas that are down do not make it reject: see {@link health}. Called again later, it answers for the
   * primary's state then. With `signal`, it rejects with `PGROUTE_ABORTED` (the signal's reason as `cause`) once
   * the signal aborts, also when it had aborted before the call.
   */
  async ready(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    this.#core.assertOpen()
    const { signal } = options
    if (!signal) await this.#core.monitor.ready()
    else await untilAborted(this.#core.monitor.ready(), signal)
    const primary = this.#core.primary
    if (takesWrites(primary)) return
    if (primary.lastFailure !== undefined && !isLastingFailure(primary.lastFailure)) {
      // A probe that timed out or was refused may be a blip (a loaded machine, a server still starting): the
      // primary is re-probed within the back-off; its answer decides.
      const { timeoutMs, maxBackoffMs } = this.#core.options.healthCheck
      await nextProbe(primary, maxBackoffMs + timeoutMs, signal)
      throwIfAborted(signal)
      if (takesWrites(primary)) return
    }
    const { reason } = primary
    const problem = writerProblemOf(this.status()[0]!, reason)
    throw new PgRouteError('PGROUTE_PRIMARY_UNAVAILABLE', `The primary cannot be used: ${problem}`, {
      // The driver's error says more (its SQLSTATE), when it is what made the primary unusable.
      cause: reason !== undefined && reason === primary.lastError ? primary.lastFailure : undefined,
    })
  }

  /**
   * The router's health for a readiness endpoint: `ok` when the primary is up and reads have somewhere to go,
   * every node's row as in {@link status}, and one line per node that is not up. Never contains credentials.
   *
   * @example
   * ```ts
   * app.get('/health', (req, res) => {
   *   const health = router.health()
   *   res.status(health.ok ? 200 : 503).json(health)
   * })
   * ```
   */
  health(): RouterHealth {
    const nodes = this.#core.nodes
    return healthOf(
      this.status(),
      this.#core.options.fallback,
      this.#core.rejections.learnedCounts(),
      (name) => nodes.byName(name)?.servers.problem,
    )
  }

  /**
   * Runs one statement on the node its text calls for: reads on a replica (within the lag bounds, having seen
   * the current session's writes), everything else on the primary. Results and errors are `pg`'s own. A
   * submittable (a pg-cursor `Cursor`, a pg-query-stream `QueryStream`) runs as `pg.Pool` runs one: on a
   * connection of its own, given back once it has ended (read to the end, closed, or failed); the promise settles
   * then.
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    query: string | pg.QueryConfig | Submittable,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.#core.route<R>(query, values)
  }

  /** A client that pins its node at its first statement (see {@link RoutedClient}). Release it when done. */
  connect(): Promise<RoutedClient> {
    try {
      return Promise.resolve(new RoutedClient(this.#core))
    } catch (error) {
      return Promise.reject(error)
    }
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
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return runTransaction(this.#core, fn, options)
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
    const { sessions } = this.#core
    let session: CausalSession
    try {
      session = openSession(sessions, options)
    } catch (error) {
      return Promise.reject(error)
    }
    if (session === sessions.getStore()) return Promise.resolve().then(fn)
    return sessions.run(session, async () => fn())
  }

  /**
   * Opens a read-your-writes scope without running anything in it yet, for work that runs in stages called from
   * elsewhere (an HTTP framework's middleware, hooks and handler): each stage enters it with
   * {@link SessionHandle.run}, synchronously, and {@link SessionHandle.empty} tells without a wait whether it has
   * a token at all. Called inside a scope, it joins that scope, as {@link session} does. Throws
   * `PGROUTE_INVALID_TOKEN` for a malformed `token`.
   *
   * @example
   * ```ts
   * app.use((req, res, next) => router.openSession({ token: req.get('x-pgroute-token') }).run(next))
   * ```
   */
  openSession(options: SessionOptions = {}): SessionHandle {
    const { sessions, causal } = this.#core
    return new SessionHandle(sessions, openSession(sessions, options), causal)
  }

  /**
   * The current scope's causal token: the WAL position its reads must see, to carry to a later request (cookie,
   * header, job payload) and pass to `session(fn, { token })`. `undefined` outside a session or before any
   * write. May ask the primary for its WAL position (once per burst of writes).
   */
  async token(): Promise<string | undefined> {
    const session = this.#core.sessions.getStore()
    return session === undefined ? undefined : tokenOf(this.#core.causal, session)
  }

  /** Classifies `sql` with this router's settings (`writeFunctions`). */
  classify(sql: string): Classification {
    return this.#core.classify(sql)
  }

  /**
   * Adds a node at runtime (from a service registry, say): its role is observed like every other's. A URL naming
   * several hosts (`postgres://u:p@h1:5432,h2:5432/db`) adds one node per host, as `createRouter` does. Resolves
   * once their first probe was judged. Throws a `ConfigError` for a bad input or a name already in use (then no
   * node is added).
   */
  async addNode(node: ReplicaInput): Promise<void> {
    await this.#core.addNodes(
      addedNodeSpecs(
        node,
        this.#core.options.nodes[0]!.pool,
        this.#core.nodes.all.length,
        this.#core.options.types,
      ),
    )
  }

  /**
   * Removes the node named `name` (as in `status()`) at runtime. It takes no new statement from the call on;
   * statements and clients already on it finish. Resolves once they have, and its pool (if the router created
   * it) has ended. The primary cannot be removed while it leads.
   */
  removeNode(name: string): Promise<void> {
    return this.#core.removeNode(name)
  }

  /** One row per node, primary first: state, lag, WAL position and traffic. Never contains credentials. */
  status(): NodeStatus[] {
    // An idle router's probe data may be older than one interval: a look starts a round (the next look sees it).
    this.#core.monitor.kick()
    return statusOf(this.#core.nodes, this.#core.replicas)
  }

  /**
   * Statements that replicas refused as writes (and that were re-run on the primary), with counts, newest
   * last: the functions they call are candidates for the `writeFunctions` option. `learned` is set while the
   * router sends the text straight to the primary (`learnRouting`), with the replica's reason.
   */
  reroutedStatements(): RejectedStatement[] {
    return this.#core.rejections.entries()
  }

  /**
   * Stops health checks and closes every pool the router created (pools passed in stay open: their owner ends
   * them). Waits for checked-out connections to be released. Idempotent.
   */
  end(): Promise<void> {
    return this.#core.close()
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
 *   lag: { maxBytes: 16 * 1024 * 1024, maxMs: 10_000 },
 * })
 * await router.ready()
 * const { rows } = await router.query('SELECT * FROM posts WHERE id = $1', [1]) // a replica
 * await router.query('INSERT INTO posts (title) VALUES ($1)', ['hello'])        // the primary
 * ```
 */
export function createRouter(options: RouterOptions): Router {
  return new Router(options)
}
