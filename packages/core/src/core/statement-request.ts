import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { ResolvedOptions } from '../config/resolved-options.js'
import type { RouterTracer } from '../observability/router-tracer.js'
import { isBusy, isCancelledByRouter, isReadOnlyRejection, isRetryableRead } from '../pg-errors.js'
import { type Lease, leaseIsCurrent, roleChangedError } from '../replicas/lease.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import type { NodeConnections } from './node-connections.js'
import {
  type Connector,
  type FirstFailure,
  PRIMARY_DOWN_BUDGET_MS,
  type PrimaryPath,
} from './primary-path.js'
import type { ReadAttempt, ReadPath } from './read-path.js'
import type { RejectionLog } from './rejection-log.js'
import { type Pin, READ_ONLY_REJECTION, type RouteOptions, type Routing } from './route-options.js'
import { isSubmittable, type Submittable, whenEnded } from './submittable.js'

/**
 * What happens to a request's connection once its statement ends: `release` it either way; `keep` it checked
 * out on success (the caller pins it), releasing it on failure; `borrowed`: the caller's pin holds it.
 */
export type ReleaseMode = 'release' | 'keep' | 'borrowed'

/** The router's parts every request uses, held once by the router's core and shared by all requests. */
export interface RequestContext {
  readonly reads: ReadPath
  readonly primaries: PrimaryPath
  readonly connections: NodeConnections
  readonly rejections: RejectionLog
  readonly tracer: RouterTracer
  readonly options: Pick<ResolvedOptions, 'retry' | 'timeouts'>
}

/**
 * What the one failure rule makes of a failure: `fail` (the failure is the caller's), `retry` (a read that failed
 * in a way worth another node, within `retry.retries`), `rerun-on-primary` (a replica refused the statement as a
 * write: it changed nothing), `resume-on-primary` (connecting to the primary failed, nothing was sent: the primary
 * path's failover rules take over).
 */
type Next = 'fail' | 'retry' | 'rerun-on-primary' | 'resume-on-primary'

/**
 * One statement routed by the router, from `RouterCore.route` until it settles: the statement (its text, pg's
 * form of it, its values), where it goes and why, the caller's session, what becomes of its connection, its time
 * limit and its lease. It runs itself: it asks the read path or the primary path for a node, checks a
 * connection out of that node's pool, sends the statement, and settles. It tells the session of a write, and it
 * decides in one place (`#decide`) what a failure means.
 *
 * A read outside a session that succeeds at once, and a statement on a primary that is up, cost one promise: the
 * request is itself the waiter of its connection and of its result, and nothing else is allocated on that path.
 * Everything after a failure is the slow path, `async` code in {@link #recover}.
 *
 * A request without a statement only checks a connection out: a client pinning its node before its first
 * statement. A submittable (pg-cursor, pg-query-stream) runs until it ends; a request for a pinned client settles
 * once it is submitted (pg's clients hand it back at once), one for `router.query` once it has ended.
 */
export class StatementRequest<R extends pg.QueryResultRow = pg.QueryResultRow>
  implements ReadAttempt, Connector
{
  /** The statement's text, for routing and diagnostics. */
  readonly text: string
  /** pg's form of the statement; `undefined` for a request that only checks a connection out. */
  readonly query: string | pg.QueryConfig | Submittable | undefined
  readonly values: unknown[] | undefined
  /** Where the statement goes and why; a refused write becomes {@link READ_ONLY_REJECTION}. */
  routing: Routing
  /** The caller's session, taken in the caller's context: pg's callbacks run in another. */
  readonly session: CausalSession | undefined
  mode: ReleaseMode
  /** The caller's pin: the statement runs on its lease, or (empty) fills it with the connection it ran on. */
  readonly pin: Pin | undefined
  /** The pinned connection may be given up (see `Pin.movable`), as its holder said when the statement started. */
  readonly movable: boolean
  /** The connection of the attempt in flight, then the one the statement ran on. */
  lease: Lease | undefined = undefined
  /** The node of the attempt in flight. */
  node: RouterNode | undefined = undefined
  /** pg's result, once the statement succeeded. */
  result: pg.QueryResult<R> | undefined = undefined
  /** The replicas this request went to already (created at the first one: most reads never need it). */
  tried: Set<RouterNode> | undefined = undefined
  /** Why the attempt in flight went to its node (`route` events). */
  reason: string
  /** `RunningStatement`: when the statement runs out of time (ticks of the time-limit timer; 0: no limit). */
  deadline = 0
  /** `RunningStatement` / `WaitingCheckout`: position in its node's bag. */
  slot = -1
  /** `RunningStatement`: a statement of the router's, not a transaction's body. */
  readonly body = false

  readonly #context: RequestContext
  /** The request goes the primary's way (a write, `router.primary`, or a router without replicas). */
  #toPrimary: boolean
  /** When a write began while its primary was marked down (0: it was up): the budget counts from it. */
  #startedAt = 0
  /** The statement was handed to pg in the attempt in flight: it may have run, so it is never re-run. */
  #sent = false
  /** The reason the statement was routed for (kept for its trace when it is re-run elsewhere). */
  readonly #routedFor: string
  /** An attempt of the slow path waits on this request's connection or result. */
  #attempt: { resolve: (lease: Lease) => void; reject: (error: unknown) => void } | undefined = undefined
  #resolve: ((result: pg.QueryResult<R>) => void) | undefined = undefined
  #reject: ((error: unknown) => void) | undefined = undefined
  #settled = false
  #ended = false
  #traced: unknown

  constructor(
    context: RequestContext,
    text: string,
    query: string | pg.QueryConfig | Submittable | undefined,
    values: unknown[] | undefined,
    routing: Routing,
    session: CausalSession | undefined,
    options: RouteOptions,
  ) {
    this.#context = context
    this.text = text
    this.query = query
    this.values = values
    this.routing = routing
    this.session = session
    const { pin } = options
    this.pin = pin
    this.movable = pin?.movable === true
    this.mode = pin === undefined ? 'release' : pin.lease === undefined ? 'keep' : 'borrowed'
    this.reason = routing.reason
    this.#routedFor = routing.reason
    this.#toPrimary = routing.target === 'primary' || options.onPrimary === true || !context.reads.open
    if (query !== undefined) this.#traced = context.tracer.traceStatementStart?.(routing.reason)
  }

  /** `RunningStatement`: the connection the statement runs on. */
  get client(): pg.PoolClient {
    return this.lease!.client
  }

  /** Runs the request, settling `resolve` / `reject` (the promise `RouterCore.route` awaits). */
  start(resolve: (result: pg.QueryResult<R>) => void, reject: (error: unknown) => void): void {
    this.#resolve = resolve
    this.#reject = reject
    const held = this.pin?.lease
    if (held !== undefined) this.#onHeld(held)
    else if (this.#toPrimary) this.#toThePrimary()
    else if (this.session === undefined) this.#toAReplica()
    else this.#slowly(this.#readElsewhere())
  }

  /** {@link ReadAttempt}: `node` (a replica) is not to be tried again by this request. */
  exclude(node: RouterNode): void {
    // Only replicas: falling back to the primary stays possible on every attempt.
    if (node.role !== 'replica') return
    this.tried ??= new Set()
    this.tried.add(node)
  }

  /** {@link Connector}: a connection of `node` for an attempt of the slow path. */
  checkout(node: RouterNode, reason: string): Promise<Lease> {
    return new Promise((resolve, reject) => {
      this.#attempt = { resolve, reject }
      this.reason = reason
      this.#checkout(node)
    })
  }

  /** {@link Connector}: gives up the checkout still waiting; a connection that comes later goes back. */
  withdraw(): boolean {
    return this.node?.waiting.remove(this) === true
  }

  /** `WaitingCheckout`: the node was marked down while this request waited for one of its connections. */
  checkoutFailed(error: unknown): void {
    this.#failed(error)
  }

  /**
   * The one failure rule. A submittable that was sent never runs again (it has state), nor does anything on a
   * held connection its caller may not give up, nor a statement on the primary that may have run. A replica that
   * refused a statement as a write changed nothing: it runs on the primary. A read, or a connection the caller
   * lets go, that failed in a way another node may not (a connection error, a hot-standby conflict, a busy node,
   * the router's own cancellation) goes elsewhere. A write whose connection to the primary failed sent nothing: the
   * primary path's failover rules take over.
   */
  #decide(error: unknown): Next {
    const node = this.node
    if (this.#sent && isSubmittable(this.query)) return 'fail'
    if (this.mode === 'borrowed' && !(this.movable && this.lease?.role === 'replica')) return 'fail'
    if (this.#sent && node?.role === 'replica' && isReadOnlyRejection(error)) return 'rerun-on-primary'
    if (this.#toPrimary) return this.#sent || node === undefined ? 'fail' : 'resume-on-primary'
    return isRetryableRead(error) ? 'retry' : 'fail'
  }

  // The fast path: choose a node, check out, send, settle.

  /**
   * On the caller's held connection, after the one check it gets before anything is sent on it: is it still what
   * it was when it was checked out (`leaseIsCurrent`)? If not, a replica-pinned client outside a transaction,
   * which holds nothing there, moves; anything else fails with `PGROUTE_ROLE_CHANGED`, nothing sent.
   */
  #onHeld(held: Lease): void {
    if (leaseIsCurrent(held)) this.#send(held)
    else if (!this.movable || isSubmittable(this.query)) this.#finish(roleChangedError(held))
    else {
      this.#giveUpPin(undefined)
      this.#slowly(this.#toPrimary ? this.#runOnPrimary(undefined) : this.#readElsewhere())
    }
  }

  /** A read outside a session: an eligible replica (or the fallback), in one go. */
  #toAReplica(): void {
    const reads = this.#context.reads
    let node: RouterNode
    try {
      node = reads.pick(this)
    } catch (error) {
      this.#finish(error)
      return
    }
    this.reason = reads.reason(node, this)
    this.#checkout(node)
  }

  /** A statement for the primary: in one go while it is plainly up, else by the primary path's failover rules. */
  #toThePrimary(): void {
    const primary = this.#context.primaries.up
    if (primary === undefined) {
      this.#slowly(this.#runOnPrimary(undefined))
      return
    }
    this.#startedAt = Date.now()
    this.#checkout(primary)
  }

  #checkout(node: RouterNode): void {
    this.node = node
    this.#sent = false
    node.waiting.add(this)
    node.pool.connect(this.#connected)
  }

  readonly #connected = (error: Error | undefined, client: pg.PoolClient | undefined): void => {
    const node = this.node!
    const connections = this.#context.connections
    if (!node.waiting.remove(this)) connections.late(node, error, client)
    else if (error !== undefined || client === undefined)
      this.#failed(connections.checkoutFailed(node, error))
    else {
      const lease = connections.leased(node, client, this.reason)
      const attempt = this.#attempt
      if (attempt === undefined) this.#send(lease)
      else {
        this.#attempt = undefined
        attempt.resolve(lease)
      }
    }
  }

  #send(lease: Lease): void {
    this.lease = lease
    this.node = lease.node
    const query = this.query
    if (query === undefined) {
      this.#succeeded()
      return
    }
    // Reads on the read path, and on a held connection, get the reads' limit; the primary path the writes'.
    const { readMs, writeMs } = this.#context.options.timeouts
    const read = this.mode === 'borrowed' ? this.routing.target === 'replica' : !this.#toPrimary
    this.deadline = this.#context.connections.deadline(read ? readMs : writeMs)
    lease.node.began(this)
    this.#sent = true
    if (isSubmittable(query)) this.#submit(lease, query)
    else {
      try {
        ;(lease.client as unknown as CallbackClient).query(query, this.values, this.#answered)
      } catch (error) {
        // pg throws synchronously for a missing statement; nothing was sent.
        this.#answered(error as Error, undefined)
      }
    }
  }

  readonly #answered = (error: Error | null | undefined, result: pg.QueryResult | undefined): void => {
    const lease = this.lease!
    const connections = this.#context.connections
    lease.node.ended(this, !error)
    if (error) {
      const failure = connections.statementFailed(lease, error)
      if (this.mode !== 'borrowed') connections.release(lease, failure)
      this.#failed(failure)
      return
    }
    this.result = result as pg.QueryResult<R>
    if (this.mode === 'release') connections.release(lease)
    this.#succeeded()
  }

  /**
   * Hands a cursor or stream its connection. For `router.query` the request ends when the submittable does (its
   * connection goes back then); a client's settles its caller now (pg's clients hand a submittable back at once),
   * the connection is the client's, and the request ends, as a statement, when the submittable does.
   */
  #submit(lease: Lease, submittable: Submittable): void {
    const connections = this.#context.connections
    whenEnded(
      submittable,
      (error) => connections.reasonFor(lease.client, error),
      (error, result) => {
        lease.node.ended(this, error === undefined)
        const failure =
          error === undefined || isCancelledByRouter(error)
            ? error
            : connections.statementFailed(lease, error)
        if (this.mode === 'release') connections.release(lease, failure)
        this.result = result as pg.QueryResult<R>
        if (failure === undefined) this.#succeeded()
        else this.#failed(failure)
      },
    )
    lease.client.query(submittable as never)
    if (this.mode !== 'release') {
      this.#fillPin()
      this.#settle(undefined)
    }
  }

  /** The attempt in flight succeeded: the slow path's attempt goes on, or the request ends. */
  #succeeded(): void {
    const attempt = this.#attempt
    if (attempt === undefined) this.#finish(undefined)
    else {
      this.#attempt = undefined
      attempt.resolve(this.lease!)
    }
  }

  /** A checkout or the statement failed: an attempt of the slow path fails; the fast path takes the slow path. */
  #failed(error: unknown): void {
    const attempt = this.#attempt
    if (attempt !== undefined) {
      this.#attempt = undefined
      attempt.reject(error)
    } else if (this.#decide(error) === 'fail') this.#finish(error)
    else this.#slowly(this.#recover(error))
  }

  // The slow path: after a failure, a session's read, a write while the primary is not plainly up.

  #slowly(work: Promise<void>): void {
    work.then(
      () => this.#finish(undefined),
      (error: unknown) => this.#finish(error),
    )
  }

  /** Goes on after `error` as `#decide` says, until the request succeeds or fails for good. */
  async #recover(error: unknown): Promise<void> {
    const { retries, minTimeoutMs, maxTimeoutMs } = this.#context.options.retry
    for (let attempt = 1; ; attempt++) {
      const next = this.#decide(error)
      if (next === 'fail') throw error
      // A refused statement left the connection fine; anything else may have broken it.
      this.#giveUpPin(next === 'rerun-on-primary' ? undefined : error)
      if (next === 'resume-on-primary')
        return this.#runOnPrimary({ startedAt: this.#startedAt || Date.now(), error })
      if (next === 'rerun-on-primary') {
        this.#context.rejections.record(this.node!, this.text, error)
        this.routing = READ_ONLY_REJECTION
        this.#toPrimary = true
        return this.#runOnPrimary(undefined)
      }
      this.#rerouted(error)
      if (attempt > retries) throw error
      const pauseMs = Math.min(minTimeoutMs * 2 ** (attempt - 1), maxTimeoutMs)
      if (pauseMs > 0) await sleep(pauseMs, undefined, { ref: false })
      try {
        return await this.#readElsewhere()
      } catch (next) {
        error = next
      }
    }
  }

  /**
   * The request leaves its caller's pinned connection (returned to its pool, destroyed after `error`): the pin is
   * emptied, and the request keeps what it gets next for it.
   */
  #giveUpPin(error: unknown): void {
    if (this.mode !== 'borrowed') return
    const pin = this.pin!
    const held = pin.lease!
    pin.lease = undefined
    this.mode = 'keep'
    this.#context.connections.release(held, error)
  }

  /** One attempt of a read on a node chosen afresh (a replica not tried yet, or the fallback). */
  async #readElsewhere(): Promise<void> {
    const node = await this.#context.reads.choose(this)
    const lease = await this.checkout(node, this.reason)
    await this.#run(lease, 0)
  }

  /** The statement on the primary, by the primary path's rules; `first`: a connection attempt that failed. */
  async #runOnPrimary(first: FirstFailure | undefined): Promise<void> {
    const primaries = this.#context.primaries
    const startedAt = first?.startedAt ?? primaries.downSince()
    const lease = await primaries.checkout(this, this.routing.reason, first)
    await this.#run(lease, primaries.budgeted(lease, startedAt) ? startedAt || Date.now() : 0)
  }

  /**
   * Sends the statement on `lease` and waits for it. With `budgetFrom` (a write on a primary marked down), it is
   * cancelled with `PGROUTE_PRIMARY_UNAVAILABLE` once {@link PRIMARY_DOWN_BUDGET_MS} from then are spent.
   */
  async #run(lease: Lease, budgetFrom: number): Promise<void> {
    const timer =
      budgetFrom === 0
        ? undefined
        : setTimeout(
            () =>
              this.#context.connections.cancel(
                lease,
                this.#context.primaries.unavailable(lease.node.lastFailure),
              ),
            Math.max(budgetFrom + PRIMARY_DOWN_BUDGET_MS - Date.now(), 0),
          ).unref()
    try {
      await new Promise<Lease>((resolve, reject) => {
        this.#attempt = { resolve, reject }
        this.#send(lease)
      })
    } finally {
      clearTimeout(timer)
    }
  }

  /** A read failed in a way worth another node: a `reroute` event; a replica out of slots cools off. */
  #rerouted(error: unknown): void {
    const node = this.node
    if (node === undefined) return
    if (isRetryableRead(error))
      this.#context.tracer.traceReroute?.({
        from: node.name,
        reason: 'retry',
        statement: this.text.slice(0, 200),
        error,
      })
    if (isBusy(error)) this.#context.reads.coolOff(node)
  }

  /**
   * The request ends (`error` when it failed): a statement routed to the primary that ran there may have written,
   * and the session learns of it, after completion, never before (a read fetching the WAL position in between
   * would miss it); the tracer hears of it; the caller's promise settles (if it has not at submission).
   */
  #finish(error: unknown): void {
    if (this.#ended) return
    this.#ended = true
    const { session, node } = this
    if (this.query !== undefined) {
      if (session !== undefined && this.routing.target === 'primary' && node?.role === 'primary')
        session.markWrite()
      const ranOn = error === undefined ? node : undefined
      this.#context.tracer.traceStatementEnd?.(this.#traced, ranOn, this.#routedFor, error)
    }
    if (error === undefined) this.#fillPin()
    this.#settle(error)
  }

  /** An empty pin gets the connection the statement ran on (once: what happens to it later is the holder's). */
  #fillPin(): void {
    if (this.mode !== 'keep' || this.#settled || this.pin === undefined) return
    this.pin.lease = this.lease
  }

  #settle(error: unknown): void {
    if (this.#settled) return
    this.#settled = true
    if (error === undefined) this.#resolve!(this.result!)
    else this.#reject!(error)
  }
}

/** pg's runtime signature, wider than its types: a config object may come with values and a callback too. */
interface CallbackClient {
  query(
    statement: string | pg.QueryConfig,
    values: unknown[] | undefined,
    callback: (error: Error | null, result?: pg.QueryResult) => void,
  ): void
}
