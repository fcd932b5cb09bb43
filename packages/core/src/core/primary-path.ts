import type pg from 'pg'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { isPgRouteError, PgRouteError } from '../errors.js'
import { isConnectionError, traceToCaller } from '../pg-errors.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import type { Routing } from './route-types.js'
import type {
  Lease,
  LeaseWaiter,
  Outcome,
  OutcomeWaiter,
  ReleaseMode,
  Statement,
  StatementRunner,
} from './statement-runner.js'

type Result<R extends pg.QueryResultRow> = Outcome<pg.QueryResult<R>>

/** Pause between connection attempts to a primary while a write waits (`failover.waitMs`). */
const RETRY_PAUSE_MS = 50

/**
 * How long a write may take, connecting included, while the primary is marked down but not confirmed down: it
 * may be back (a probe that timed out under load), so the write is tried, but a caller never waits longer than
 * this for the answer. Statements still running on a primary marked down are cancelled after it too.
 */
export const PRIMARY_DOWN_BUDGET_MS = 800

/** What {@link PrimaryPath} needs of the router. */
export interface PrimaryPathDeps {
  readonly nodes: NodeSet
  readonly runner: StatementRunner
  readonly options: Pick<ResolvedOptions, 'failover' | 'timeouts'>
  /** Removes passwords from a diagnostic text. */
  readonly scrub: (text: string) => string
  /** Whether the router is closing: a connection error then ends the wait. */
  readonly closed: () => boolean
  /**
   * A statement routed as `routing` in `session` has ended on `node` (either way, even when it never reached
   * it): called before its promise settles.
   */
  readonly completed: (node: RouterNode, routing: Routing, session: CausalSession | undefined) => void
}

/** Connecting to the primary failed once already: when the write began, and with what. */
interface FirstFailure {
  readonly startedAt: number
  readonly error: unknown
}

/**
 * How a write reaches the primary, and the one rule for writes while no node may take them: while no writable
 * primary is known (the primary confirmed down, fenced, or in recovery), a write fails fast with
 * `PGROUTE_PRIMARY_UNAVAILABLE`, or with `failover.waitMs` waits that long for one (the same node back, or a new
 * one after a failover). A primary marked down but not confirmed (one failure so far) is still tried, within
 * {@link PRIMARY_DOWN_BUDGET_MS}.
 */
export class PrimaryPath {
  readonly #deps: PrimaryPathDeps

  constructor(deps: PrimaryPathDeps) {
    this.#deps = deps
  }

  /** The runner statements on the primary run on. */
  get runner(): StatementRunner {
    return this.#deps.runner
  }

  /** `timeouts.writeMs`. */
  get writeMs(): number {
    return this.#deps.options.timeouts.writeMs
  }

  /**
   * Runs a statement of `session` (if any) on the primary, then tells {@link PrimaryPathDeps.completed}. Only
   * connecting is retried, never a statement that may have run. While the primary is up (the common case) this
   * costs one promise: see {@link PrimaryWrite}.
   */
  run<R extends pg.QueryResultRow>(
    routing: Routing,
    statement: Statement,
    mode: ReleaseMode,
    session: CausalSession | undefined,
  ): Promise<Result<R>> {
    const primary = this.#deps.nodes.writable
    if (primary?.state !== 'up') return this.#run(routing, statement, mode, session, this.#downSince())
    return new Promise((resolve, reject) =>
      new PrimaryWrite<R>(this, routing, statement, session).start(primary, mode, resolve, reject),
    )
  }

  /** A statement ended on `node` (see {@link PrimaryPathDeps.completed}). */
  completed(node: RouterNode, routing: Routing, session: CausalSession | undefined): void {
    this.#deps.completed(node, routing, session)
  }

  /** {@link PrimaryWrite}'s connect failed: nothing was sent; the write goes on by {@link lease}'s rules. */
  resume<R extends pg.QueryResultRow>(
    write: PrimaryWrite<R>,
    mode: ReleaseMode,
    first: FirstFailure,
  ): Promise<Result<R>> {
    return this.#run(write.routing, write.statement, mode, write.session, 0, first)
  }

  /** {@link run} when the primary is not plainly up, or its first connect failed (`first`). */
  async #run<R extends pg.QueryResultRow>(
    routing: Routing,
    statement: Statement,
    mode: ReleaseMode,
    session: CausalSession | undefined,
    started: number,
    first?: FirstFailure,
  ): Promise<Result<R>> {
    let node = this.#deps.nodes.primary
    try {
      const lease = await this.lease(routing.reason, first)
      node = lease.node
      return await this.#execute<R>(lease, statement, mode, started)
    } catch (error) {
      traceToCaller(error)
      throw error
    } finally {
      this.#deps.completed(node, routing, session)
    }
  }

  /** When the write starting now started, if the primary is marked down (its budget counts from it); else 0. */
  #downSince(): number {
    return this.#deps.nodes.primary.state === 'down' ? Date.now() : 0
  }

  /**
   * A connection to the current primary. A connection error leaves the primary marked down: the next attempt
   * waits or fails the same way. Nothing was sent yet, so no write runs twice. `first`: an attempt that already
   * failed.
   */
  async lease(reason: string, first?: FirstFailure): Promise<Lease> {
    const { nodes, runner, options } = this.#deps
    const { waitMs } = options.failover
    const deadline = (first?.startedAt ?? Date.now()) + waitMs
    let failure = first && (await this.#connectFailed(first.error, deadline, undefined))
    for (;;) {
      const primary =
        nodes.writable ?? (waitMs > 0 ? await nodes.waitForWritable(deadline - Date.now()) : undefined)
      if (primary === undefined) throw this.unavailable(failure)
      try {
        return primary.state === 'down'
          ? await this.#acquireWithin(primary, reason)
          : await runner.acquire(primary, reason)
      } catch (error) {
        failure = await this.#connectFailed(error, deadline, failure)
      }
    }
  }

  /**
   * Connecting to the primary failed with `error`. Rethrows what is no failure of the primary's connection (and
   * anything once the router is closing); past `deadline`, fails with `PGROUTE_PRIMARY_UNAVAILABLE`; else pauses
   * before the next attempt and returns the failure to report if none succeeds.
   */
  async #connectFailed(error: unknown, deadline: number, failure: unknown): Promise<unknown> {
    // The runner reports a failure of the primary's own as PGROUTE_PRIMARY_UNAVAILABLE, its cause the error.
    const unavailable = isPgRouteError(error) && error.code === 'PGROUTE_PRIMARY_UNAVAILABLE'
    if ((!unavailable && !isConnectionError(error)) || this.#deps.closed()) throw error
    const cause = unavailable ? (error.cause ?? failure) : error
    const remaining = deadline - Date.now()
    if (remaining <= 0) throw this.unavailable(cause)
    // Until the re-probe confirms the outage the primary stays writable: pace the attempts meanwhile.
    await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_PAUSE_MS, remaining)).unref())
    return cause
  }

  /**
   * Runs a write on its lease, within `timeouts.writeMs`. On a primary marked down (at `started`, from
   * {@link #downSince}, or since), the statement is cancelled with `PGROUTE_PRIMARY_UNAVAILABLE` once
   * {@link PRIMARY_DOWN_BUDGET_MS} is spent.
   */
  async #execute<R extends pg.QueryResultRow>(
    lease: Lease,
    statement: Statement,
    mode: ReleaseMode,
    started: number,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    const { runner, options } = this.#deps
    const { writeMs } = options.timeouts
    if (started === 0 && lease.node.state !== 'down')
      return runner.execute<R>(lease, statement, mode, writeMs)
    const timer = setTimeout(
      () => runner.cancel(lease, this.unavailable(lease.node.lastFailure)),
      Math.max((started || Date.now()) + PRIMARY_DOWN_BUDGET_MS - Date.now(), 0),
    )
    timer.unref()
    try {
      return await runner.execute<R>(lease, statement, mode, writeMs)
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * A connection to `node` (a primary marked down, where a connect may hang), given up after
   * {@link PRIMARY_DOWN_BUDGET_MS} with `PGROUTE_PRIMARY_UNAVAILABLE` (a connection that comes later goes back to
   * its pool).
   */
  #acquireWithin(node: RouterNode, reason: string): Promise<Lease> {
    const { runner } = this.#deps
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (runner.withdraw(node, checkout)) reject(this.unavailable(undefined))
      }, PRIMARY_DOWN_BUDGET_MS)
      timer.unref()
      const waiter: LeaseWaiter = {
        leased: (lease) => {
          clearTimeout(timer)
          resolve(lease)
        },
        failed: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      }
      const checkout = runner.checkout(node, reason, waiter)
    })
  }

  /** `PGROUTE_PRIMARY_UNAVAILABLE`, naming the primary and why it cannot take writes; `cause`: the last failure. */
  unavailable(cause: unknown): PgRouteError {
    const { nodes, options, scrub } = this.#deps
    const { primary } = nodes
    const why = primary.role === 'primary' ? `is ${primary.state}` : 'is no longer primary'
    const reason = primary.reason ?? primary.lastError
    const detail = reason === undefined ? '' : ` (${scrub(reason)})`
    const { waitMs } = options.failover
    const waited = waitMs > 0 ? ` within failover.waitMs ${waitMs}` : ''
    return new PgRouteError(
      'PGROUTE_PRIMARY_UNAVAILABLE',
      `No primary can take writes${waited}: ${primary.name} ${why}${detail}`,
      { cause: cause ?? primary.lastFailure },
    )
  }
}

/**
 * A statement on a primary that is up, leased and run in one promise, as a read outside a session is: the path
 * nearly every write takes. It is the waiter of its connection and of its outcome, so it allocates no closures.
 * If connecting fails, nothing was sent, and {@link PrimaryPath.resume} takes over.
 */
class PrimaryWrite<R extends pg.QueryResultRow> implements LeaseWaiter, OutcomeWaiter<R> {
  readonly routing: Routing
  readonly statement: Statement
  /** The caller's session, taken in the caller's context: pg's callbacks run in another. */
  readonly session: CausalSession | undefined
  readonly limitMs: number
  readonly #path: PrimaryPath
  #node: RouterNode | undefined = undefined
  #mode: ReleaseMode = 'release'
  #startedAt = 0
  #sent = false
  #resolve: ((outcome: Result<R>) => void) | undefined = undefined
  #reject: ((error: unknown) => void) | undefined = undefined

  constructor(path: PrimaryPath, routing: Routing, statement: Statement, session: CausalSession | undefined) {
    this.#path = path
    this.routing = routing
    this.statement = statement
    this.session = session
    this.limitMs = path.writeMs
  }

  /** Leases a connection of `primary` for a statement run in `mode`, settling through `resolve` / `reject`. */
  start(
    primary: RouterNode,
    mode: ReleaseMode,
    resolve: (outcome: Result<R>) => void,
    reject: (error: unknown) => void,
  ): void {
    this.#node = primary
    this.#mode = mode
    this.#startedAt = Date.now()
    this.#resolve = resolve
    this.#reject = reject
    this.#path.runner.checkout(primary, this.routing.reason, this)
  }

  /** The connection: run the statement on it. */
  leased(lease: Lease): void {
    this.#sent = true
    this.#path.runner.send<R>(lease, this.statement, this.#mode, this)
  }

  done(outcome: Result<R>): void {
    this.#path.completed(this.#node!, this.routing, this.session)
    this.#resolve!(outcome)
  }

  failed(error: unknown): void {
    if (this.#sent) {
      this.#path.completed(this.#node!, this.routing, this.session)
      this.#reject!(error)
      return
    }
    this.#path
      .resume(this, this.#mode, { startedAt: this.#startedAt, error })
      .then(this.#resolve, this.#reject)
  }
}
