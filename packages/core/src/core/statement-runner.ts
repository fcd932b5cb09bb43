import type pg from 'pg'
import type { PgRouteError } from '../errors.js'
import {
  cancelledByRouter,
  type ErrorOrigin,
  isConnectionError,
  isStatementError,
  traceToCaller,
} from '../pg-errors.js'
import type { Lease } from '../replicas/lease.js'
import type { RouterNode, RunningStatement, WaitingCheckout } from '../replicas/router-node.js'
import { StatementCanceller, whileDown } from './statement-canceller.js'
import { nodeDownError, primaryUnavailable } from './unavailable-error.js'

export type { Lease } from '../replicas/lease.js'

/** One statement as the caller gave it: its text (for routing and diagnostics), pg's form of it, its values. */
export interface Statement {
  readonly text: string
  readonly query: string | pg.QueryConfig
  readonly values: unknown[] | undefined
}

/** What a statement produced, and (when asked to keep it) the connection it ran on. */
export interface Outcome<T> {
  readonly value: T
  readonly lease: Lease
}

/**
 * What happens to a connection once its statement ends: `release` it either way; `keep` it checked out on
 * success (the caller pins it), releasing it on failure; `borrowed`: the caller owns it, it is never released here.
 */
export type ReleaseMode = 'release' | 'keep' | 'borrowed'

/** Waits for a connection of {@link StatementRunner.checkout}. */
export interface LeaseWaiter {
  leased(lease: Lease): void
  failed(error: unknown): void
}

/** Waits for the outcome of {@link StatementRunner.send}. */
export interface OutcomeWaiter<R extends pg.QueryResultRow> {
  /** Time limit of the statement in ms (0 or absent: none), from `timeouts.readMs` / `timeouts.writeMs`. */
  readonly limitMs?: number
  done(outcome: Outcome<pg.QueryResult<R>>): void
  failed(error: unknown): void
}

/** pg's runtime signature, wider than its types: a config object may come with values and a callback too. */
interface CallbackClient {
  query(
    statement: string | pg.QueryConfig,
    values: unknown[] | undefined,
    callback: (error: Error | null, result?: pg.QueryResult) => void,
  ): void
}

/** Hooks of a {@link StatementRunner}. */
export interface RunnerHooks {
  /** A connection failure: the node is likely down. */
  readonly onConnectionFailure: (node: RouterNode, error: unknown) => void
  /** A connection was leased for a statement (only set when `route` events are on). */
  readonly onRoute: ((node: RouterNode, reason: string) => void) | undefined
  /** How often running statements are checked against their time limits, in ms (0: never). */
  readonly sweepEveryMs: number
}

/**
 * Leases connections from the nodes' pools and runs statements on them, keeping each node's traffic figures and
 * reporting connection failures. One verb per operation: {@link checkout} / {@link acquire} lease a connection
 * (callback / promise), {@link send} / {@link execute} run one statement on it (callback / promise),
 * {@link within} runs a caller's function on it, {@link release} hands it back.
 *
 * It uses pg's callback API: pg's promise forms cost two promises per call, and a statement that leases, runs and
 * releases in one promise is measurably cheaper on the path every query takes. The waiters are objects with
 * methods, so the hot path allocates no closures of its own beyond the one pg calls back.
 */
export class StatementRunner {
  readonly #hooks: RunnerHooks
  /** One `error` listener per node, for its pool and for each of its connections. */
  readonly #listeners = new Map<RouterNode, (error: Error, client?: pg.PoolClient) => void>()
  /** Connections that already carry their node's listener (kept aside: pg's objects are not ours to extend). */
  readonly #watched = new WeakSet<pg.PoolClient>()
  /** Time limits and cancel-on-down of what runs on the nodes' connections. */
  readonly #canceller: StatementCanceller

  constructor(nodes: readonly RouterNode[], hooks: RunnerHooks) {
    this.#hooks = hooks
    this.#canceller = new StatementCanceller(hooks.sweepEveryMs)
    for (const node of nodes) this.watch(node)
  }

  /**
   * Takes a node in (every node, including those added at runtime): its statements are checked against their
   * time limits, and its pool is listened to.
   */
  watch(node: RouterNode): void {
    this.#canceller.track(node)
    // A connection whose server goes away emits `error`: pg-pool forwards it to the pool while the connection
    // is idle, and unhandled either would crash the process. It is news about the node, not a caller's failure.
    const listener = (error: Error, client?: pg.PoolClient) => {
      // The pool repeats what a watched connection already reported through its own listener.
      if (client && this.#watched.has(client)) return
      this.#noteFailure(node, error, client)
    }
    node.pool.on('error', listener)
    this.#listeners.set(node, listener)
  }

  /**
   * Takes the `error` listeners off the pools the router was given: they outlive the router, and their owner
   * handles their errors. Pools the router created keep theirs: pg-pool's `end()` resolves before its connections
   * have closed, and a server shutting down meanwhile would make a listener-less pool throw. (Connections of a
   * given pool keep their listener, which does nothing once the router has ended.)
   */
  detachPools(): void {
    for (const node of this.#listeners.keys()) this.detach(node)
  }

  /** Takes the `error` listener off one node's pool when the router was given it (see {@link detachPools}). */
  detach(node: RouterNode): void {
    this.#canceller.untrack(node)
    const listener = this.#listeners.get(node)
    if (listener && !node.spec.ownsPool) node.pool.removeListener('error', listener)
  }

  /** Stops the time-limit checks and closes cancel requests still in flight. */
  stop(): void {
    this.#canceller.stop()
  }

  /**
   * `node` was marked down: after `graceMs` (if it is still down), statements running on it are cancelled (their
   * connections closed) and checkouts waiting for one of its connections fail, all with `PGROUTE_NODE_DOWN`, so
   * that nobody waits out a hung node. Transaction bodies get a longer grace (see {@link StatementCanceller.abandon}).
   */
  abandon(node: RouterNode, graceMs = 0): void {
    this.#canceller.abandon(node, graceMs)
    whileDown(node, graceMs, () => {
      for (const { waiter } of node.waiting.takeAll())
        waiter.failed(this.#failure(node, cancelledByRouter(nodeDownError(node))))
    })
  }

  /**
   * Leases a connection of `node` and hands it to `waiter`; a connection failure marks the node down at once.
   * Returns the waiting checkout, for {@link withdraw}.
   */
  checkout(node: RouterNode, reason: string, waiter: LeaseWaiter): WaitingCheckout {
    const waiting: WaitingCheckout = { slot: -1, waiter }
    node.waiting.add(waiting)
    node.pool.connect((error: Error | undefined, client: pg.PoolClient | undefined) => {
      if (!node.waiting.remove(waiting)) {
        // Already failed by abandon(): a connection that came after all goes back to its pool.
        if (error) this.#noteFailure(node, error, 'connect')
        client?.release()
        return
      }
      if (error || !client) {
        this.#noteFailure(node, error, 'connect')
        waiter.failed(this.#failure(node, error ?? new Error('pg-pool returned no connection')))
        return
      }
      // pg-pool watches a connection for errors only while it is idle; a checked-out connection that loses its
      // server would crash the process with no listener. Each connection gets a listener once, for good.
      if (!this.#watched.has(client)) {
        this.#watched.add(client)
        client.on('error', (clientError) => {
          if (!this.#canceller.discarded(client)) this.#noteFailure(node, clientError, client)
        })
      }
      this.#hooks.onRoute?.(node, reason)
      waiter.leased({ node, client })
    })
    return waiting
  }

  /**
   * Gives up a checkout still waiting for a connection: its waiter is not called, a connection that comes later
   * goes back to its pool. False if it was no longer waiting.
   */
  withdraw(node: RouterNode, checkout: WaitingCheckout): boolean {
    return node.waiting.remove(checkout)
  }

  /** {@link checkout} as a promise. */
  acquire(node: RouterNode, reason: string): Promise<Lease> {
    return new Promise((resolve, reject) => this.checkout(node, reason, { leased: resolve, failed: reject }))
  }

  /** Cancels the statement running on `lease`, if one still is: it fails with `reason`. */
  cancel(lease: Lease, reason: PgRouteError): void {
    if (lease.node.running.snapshot().some(({ client }) => client === lease.client))
      this.#canceller.cancel(lease.client, reason)
  }

  /**
   * Returns a connection to its pool. After a failure other than an ordinary statement error (the server said
   * no, the connection is fine) the connection is destroyed: it may be broken or still busy.
   */
  release(lease: Lease, error?: unknown): void {
    const destroy = error !== undefined && !isStatementError(error)
    lease.client.release(destroy ? (error instanceof Error ? error : true) : undefined)
  }

  /**
   * Runs one statement on a leased connection: keeps the node's figures, notices dead nodes, hands the
   * connection back as `mode` says, and settles `waiter`.
   */
  send<R extends pg.QueryResultRow>(
    lease: Lease,
    statement: Statement,
    mode: ReleaseMode,
    waiter: OutcomeWaiter<R>,
  ): void {
    lease.node.inFlight++
    const running: RunningStatement = {
      slot: -1,
      client: lease.client,
      deadline: this.#canceller.deadline(waiter.limitMs),
      body: false,
    }
    lease.node.running.add(running)
    try {
      ;(lease.client as unknown as CallbackClient).query(
        statement.query,
        statement.values,
        (error, result) =>
          error
            ? this.#failed(lease, running, mode, waiter, error)
            : this.#done(lease, running, mode, waiter, result as pg.QueryResult<R>),
      )
    } catch (error) {
      // pg throws synchronously for a missing statement; nothing was sent.
      this.#failed(lease, running, mode, waiter, error)
    }
  }

  /** {@link send} as a promise, its error traced back to the caller. */
  async execute<R extends pg.QueryResultRow = pg.QueryResultRow>(
    lease: Lease,
    statement: Statement,
    mode: ReleaseMode,
    limitMs = 0,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    try {
      return await new Promise((resolve, reject) =>
        this.send<R>(lease, statement, mode, { done: resolve, failed: reject, limitMs }),
      )
    } catch (error) {
      traceToCaller(error)
      throw error
    }
  }

  /**
   * Runs a caller's function that runs its own statements (a transaction's body) on a leased connection. A
   * failure of the primary under it is reported as `PGROUTE_PRIMARY_UNAVAILABLE` (the error as `cause`).
   *
   * The body's statements do not pass through {@link send}: its connection counts as running for the whole body,
   * so that it is cancelled (and the body fails with `PGROUTE_NODE_DOWN`, or the primary's error) when the node is
   * marked down. It has no time limit: a transaction may rightly outlast any one statement's limit.
   */
  async within<T>(lease: Lease, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { node, client } = lease
    const running: RunningStatement = { slot: -1, client, deadline: 0, body: true }
    node.inFlight++
    node.running.add(running)
    try {
      const value = await use(client)
      node.served++
      return value
    } catch (error) {
      const cancelled = this.#canceller.takeReason(client)
      if (cancelled === undefined) this.#noteFailure(node, error, client)
      throw this.#failure(node, cancelled ?? error)
    } finally {
      node.inFlight--
      node.running.remove(running)
      // A body that swallowed the cancellation's error: forget the reason all the same.
      this.#canceller.takeReason(client)
    }
  }

  #done<R extends pg.QueryResultRow>(
    lease: Lease,
    running: RunningStatement,
    mode: ReleaseMode,
    waiter: OutcomeWaiter<R>,
    result: pg.QueryResult<R>,
  ): void {
    lease.node.inFlight--
    lease.node.running.remove(running)
    lease.node.served++
    if (mode === 'release') this.release(lease)
    waiter.done({ value: result, lease })
  }

  #failed<R extends pg.QueryResultRow>(
    lease: Lease,
    running: RunningStatement,
    mode: ReleaseMode,
    waiter: OutcomeWaiter<R>,
    error: unknown,
  ): void {
    const { node, client } = lease
    node.inFlight--
    node.running.remove(running)
    const cancelled = this.#canceller.takeReason(client)
    if (cancelled === undefined) this.#noteFailure(node, error, client)
    const failure = this.#failure(node, cancelled ?? error)
    if (mode !== 'borrowed') this.release(lease, failure)
    waiter.failed(failure)
  }

  /** What a statement's caller sees: on the primary, the node's own failure as `PGROUTE_PRIMARY_UNAVAILABLE`. */
  #failure(node: RouterNode, error: unknown): unknown {
    return node.role === 'primary' ? primaryUnavailable(node, error) : error
  }

  /** Reports a failure with the node's signature; `origin` tells whether the driver raised it (see ErrorOrigin). */
  #noteFailure(node: RouterNode, error: unknown, origin: ErrorOrigin | undefined): void {
    if (isConnectionError(error, origin)) this.#hooks.onConnectionFailure(node, error)
  }
}
