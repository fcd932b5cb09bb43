import type pg from 'pg'
import type { RouterNode } from '../nodes/router-node.js'
import { isConnectionError, isStatementError, traceToCaller } from '../routing/database-errors.js'
import type { RouteEvent } from './router-events.js'

/** A connection checked out of one node's pool. */
export interface Lease {
  readonly node: RouterNode
  readonly client: pg.PoolClient
}

/** What a statement produced, and (when asked to keep it) the connection it ran on. */
export interface Outcome<T> {
  readonly value: T
  readonly lease: Lease
}

/** A statement as `pg` takes it. */
export type Statement = string | pg.QueryConfig

/**
 * What happens to a connection once its statement ends: `release` it either way; `keep` it checked out on
 * success (the caller pins it), releasing it on failure; `borrowed`: the caller owns it, it is never released here.
 */
export type ReleaseMode = 'release' | 'keep' | 'borrowed'

/** pg's runtime signature, wider than its types: a config object may come with values and a callback too. */
interface CallbackClient {
  query(
    statement: Statement,
    values: unknown[] | undefined,
    callback: (error: Error | null, result?: pg.QueryResult) => void,
  ): void
}

/**
 * Leases connections from the nodes' pools and runs statements on them, keeping each node's traffic figures and
 * reporting connection failures.
 *
 * It uses pg's callback API: pg's promise forms cost two promises per call, and a statement that leases, runs and
 * releases in one promise is measurably cheaper on the path every query takes.
 */
export class StatementRunner {
  readonly #reportFailure: (node: RouterNode, error: unknown) => void
  readonly #onRoute: ((event: RouteEvent) => void) | undefined
  /** One `error` listener per node, for its pool and for each of its connections. */
  readonly #listeners = new Map<RouterNode, (error: Error, client?: pg.PoolClient) => void>()
  /** Connections that already carry their node's listener (kept aside: pg's objects are not ours to extend). */
  readonly #watched = new WeakSet<pg.PoolClient>()

  constructor(
    nodes: readonly RouterNode[],
    reportFailure: (node: RouterNode, error: unknown) => void,
    onRoute: ((event: RouteEvent) => void) | undefined,
  ) {
    this.#reportFailure = reportFailure
    this.#onRoute = onRoute
    for (const node of nodes) {
      // A connection whose server goes away emits `error`: pg-pool forwards it to the pool while the connection
      // is idle, and unhandled either would crash the process. It is news about the node, not a caller's failure.
      const listener = (error: Error, client?: pg.PoolClient) => {
        // The pool repeats what a watched connection already reported through its own listener.
        if (client && this.#watched.has(client)) return
        this.#noteFailure(node, error)
      }
      node.pool.on('error', listener)
      this.#listeners.set(node, listener)
    }
  }

  /**
   * Takes the `error` listeners off the pools the router was given: they outlive the router, and their owner
   * handles their errors. Pools the router created keep theirs: pg-pool's `end()` resolves before its connections
   * have closed, and a server shutting down meanwhile would make a listener-less pool throw. (Connections of a
   * given pool keep their listener, which does nothing once the router has ended.)
   */
  detachPools(): void {
    for (const [node, listener] of this.#listeners) {
      if (!node.spec.ownsPool) node.pool.removeListener('error', listener)
    }
  }

  /** Checks a connection out of `node`'s pool; a connection failure marks the node down at once. */
  acquire(node: RouterNode, reason: string): Promise<Lease> {
    return new Promise((resolve, reject) => this.lease(node, reason, resolve, reject))
  }

  /**
   * Returns a connection to its pool. After a failure other than an ordinary statement error (the server said
   * no, the connection is fine) the connection is destroyed: it may be broken or still busy.
   */
  release(lease: Lease, error?: unknown): void {
    const destroy = error !== undefined && !isStatementError(error)
    lease.client.release(destroy ? (error instanceof Error ? error : true) : undefined)
  }

  /** Runs one statement on a leased connection, keeping the node's traffic figures and noticing dead nodes. */
  async execute<R extends pg.QueryResultRow = pg.QueryResultRow>(
    lease: Lease,
    query: Statement,
    values: unknown[] | undefined,
  ): Promise<pg.QueryResult<R>> {
    try {
      return await new Promise((resolve, reject) =>
        this.run<R>(lease, query, values, 'borrowed', (outcome) => resolve(outcome.value), reject),
      )
    } catch (error) {
      traceToCaller(error)
      throw error
    }
  }

  /** Like {@link execute}, for a caller's function that runs its own statements (a transaction's body). */
  async runFunction<T>(lease: Lease, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { node } = lease
    node.inFlight++
    try {
      const value = await use(lease.client)
      node.served++
      return value
    } catch (error) {
      this.#noteFailure(node, error)
      throw error
    } finally {
      node.inFlight--
    }
  }

  /** Leases a connection of `node` and hands it to `leased`, or the connect error to `failed`. */
  lease(
    node: RouterNode,
    reason: string,
    leased: (lease: Lease) => void,
    failed: (error: Error) => void,
  ): void {
    node.pool.connect((error: Error | undefined, client: pg.PoolClient | undefined) => {
      if (error || !client) {
        this.#noteFailure(node, error)
        failed(error ?? new Error('pg-pool returned no connection'))
        return
      }
      // pg-pool watches a connection for errors only while it is idle; a checked-out connection that loses its
      // server would crash the process with no listener. Each connection gets the node's listener once, for good.
      if (!this.#watched.has(client)) {
        this.#watched.add(client)
        client.on('error', this.#listeners.get(node)!)
      }
      this.#onRoute?.({ node: node.name, role: node.role, reason })
      leased({ node, client })
    })
  }

  /**
   * Runs one statement on a leased connection: keeps the node's figures, notices dead nodes, hands the
   * connection back as `mode` says, and settles through `resolve`/`reject`.
   */
  run<R extends pg.QueryResultRow>(
    lease: Lease,
    query: Statement,
    values: unknown[] | undefined,
    mode: ReleaseMode,
    resolve: (outcome: Outcome<pg.QueryResult<R>>) => void,
    reject: (error: unknown) => void,
  ): void {
    lease.node.inFlight++
    try {
      ;(lease.client as unknown as CallbackClient).query(query, values, (error, result) =>
        this.#settle(lease, mode, error, result as pg.QueryResult<R>, resolve, reject),
      )
    } catch (error) {
      // pg throws synchronously for a missing statement; nothing was sent.
      this.#settle(lease, mode, error as Error, undefined, resolve, reject)
    }
  }

  #settle<R extends pg.QueryResultRow>(
    lease: Lease,
    mode: ReleaseMode,
    error: Error | null,
    result: pg.QueryResult<R> | undefined,
    resolve: (outcome: Outcome<pg.QueryResult<R>>) => void,
    reject: (error: unknown) => void,
  ): void {
    const { node } = lease
    node.inFlight--
    if (error) {
      this.#noteFailure(node, error)
      if (mode !== 'borrowed') this.release(lease, error)
      reject(error)
      return
    }
    node.served++
    if (mode === 'release') this.release(lease)
    resolve({ value: result!, lease })
  }

  /** Leases a connection of `node` and runs one statement on it: one promise for the whole statement. */
  runOn<R extends pg.QueryResultRow>(
    node: RouterNode,
    reason: string,
    query: Statement,
    values: unknown[] | undefined,
    keep: boolean,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    return new Promise((resolve, reject) =>
      this.lease(
        node,
        reason,
        (lease) => this.run<R>(lease, query, values, keep ? 'keep' : 'release', resolve, reject),
        reject,
      ),
    )
  }

  #noteFailure(node: RouterNode, error: unknown): void {
    if (isConnectionError(error)) this.#reportFailure(node, error)
  }
}
