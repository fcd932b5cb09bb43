import type pg from 'pg'
import { commitTicket, mayChangeCommitLevel, taintConnection } from '../health/connection-watch.js'
import { type Lease, leaseIsCurrent, roleChangedError } from '../replicas/lease.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import type { Grant } from './node-connections.js'
import { type AttemptedRequest, onPrimary } from './request-attempts.js'
import type { RequestContext } from './request-context.js'
import { decide, offStaleLease, readAnew, recover } from './request-recovery.js'
import type { Pin, ReleaseMode, RouteOptions, Routing } from './route-options.js'
import { type CallbackClient, isSubmittable, type Submittable } from './submittable.js'
import { sendSubmittable } from './submittable-sender.js'
import { bytesWrittenOf, neverWritten } from './unwritten.js'

/**
 * One statement routed by the router, from `RouterCore.route` until it settles: the statement (its text, pg's
 * form of it, its values), where it goes and why, the caller's session, what becomes of its connection, its time
 * limit and its lease. It runs itself: it asks the replica set or the primary path for a node, checks a
 * connection out of that node's pool, sends the statement, tells the session of a write, and settles.
 *
 * This is the fast path: a read outside a session that succeeds at once, and a statement on a primary that is up,
 * cost one promise (the request is the waiter of its connection and of its result). The slow path, `async` code that
 * never imports this class ({@link decide}, {@link recover}, `request-attempts.ts`), takes the request as an
 * {@link AttemptedRequest} and awaits its `checkout` and `run`; a cursor or stream goes by `submittable-sender.ts`.
 */
export class StatementRequest<R extends pg.QueryResultRow = pg.QueryResultRow> implements AttemptedRequest {
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
  /** `RunningStatement` / `WaitingCheckout`: when it runs out of time, in the time-limit timer's ticks; 0: never. */
  deadline = 0
  /** `RunningStatement` / `WaitingCheckout`: position in its node's bag. */
  slot = -1

  // For the slow path (see AttemptedRequest): its way, when a write that found its primary up began, sent or not.
  toPrimary: boolean
  startedAt = 0
  sent = false

  readonly #context: RequestContext
  /** In a session: the WAL position its node was known to have reached when the statement was sent. */
  #walBefore: bigint | undefined = undefined
  /** What the connection's socket had taken when the statement was handed to pg (see `neverWritten`). */
  #writtenBefore: number | undefined = undefined
  /** Checkouts started so far: only the last one's answer is the request's. */
  #checkouts = 0
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
    this.mode = pin === undefined ? 'release' : pin.lease === undefined ? 'keep' : 'borrowed'
    this.reason = routing.reason
    this.#routedFor = routing.reason
    this.toPrimary =
      routing.target === 'primary' || options.onPrimary === true || context.replicas.all.length === 0
    if (query !== undefined) this.#traced = context.tracer.traceStatementStart?.(routing.reason)
    // When a write of the session started: a synchronous standby must have been counted since (see causal-session).
    if (session !== undefined && this.toPrimary) session.writing()
  }

  /** `RunningStatement`: the connection the statement runs on. */
  get client(): pg.PoolClient {
    return this.lease!.client
  }

  /** `RunningStatement`: a statement of the router's, not a transaction's body. */
  get body(): false {
    return false
  }

  /** Runs the request, settling `resolve` / `reject` (the promise `RouterCore.route` awaits). */
  start(resolve: (result: pg.QueryResult<R>) => void, reject: (error: unknown) => void): void {
    this.#resolve = resolve
    this.#reject = reject
    const pin = this.pin
    if (pin !== undefined && pin.lease !== undefined) this.#onHeld(pin.lease)
    else if (pin !== undefined && pin.revoked !== undefined) this.#finish(roleChangedError(pin.revoked))
    else if (this.toPrimary) this.#toThePrimary()
    else if (this.session === undefined) this.#toAReplica()
    else this.#slowly(readAnew(this, this.#context))
  }

  /** {@link ReadAttempt}: `node`, if a replica (the primary stays a fallback), is not to be tried again. */
  exclude(node: RouterNode): void {
    if (node.role !== 'replica') return
    this.tried ??= new Set()
    this.tried.add(node)
  }

  /** {@link AttemptedRequest}: a connection of `node` for an attempt of the slow path. */
  checkout(node: RouterNode, reason: string): Promise<Lease> {
    return new Promise((resolve, reject) => {
      this.#attempt = { resolve, reject }
      this.reason = reason
      this.#checkout(node)
    })
  }

  /** {@link AttemptedRequest}: gives up the checkout still waiting; a connection that comes later goes back. */
  withdraw(): boolean {
    return this.node?.waiting.remove(this) === true
  }

  /** `WaitingCheckout`: the node was marked down while this request waited for one of its connections. */
  checkoutFailed(error: unknown): void {
    this.#failed(error)
  }

  /** On the caller's held connection if it is still what it was when checked out; else see {@link offStaleLease}. */
  #onHeld(held: Lease): void {
    if (leaseIsCurrent(held)) this.#send(held)
    else this.#slowly(offStaleLease(this, this.#context, held))
  }

  /** A read outside a session: an eligible replica (or the fallback), in one go. */
  #toAReplica(): void {
    const replicas = this.#context.replicas
    let node: RouterNode
    try {
      node = replicas.pick(this)
    } catch (error) {
      this.#finish(error)
      return
    }
    this.reason = replicas.reason(node, this)
    this.#checkout(node)
  }

  /** A statement for the primary: in one go while it is plainly up, else by the primary path's failover rules. */
  #toThePrimary(): void {
    const primary = this.#context.primaries.up
    if (primary === undefined) this.#slowly(onPrimary(this, this.#context, undefined))
    else {
      this.startedAt = Date.now()
      this.#checkout(primary)
    }
  }

  #checkout(node: RouterNode): void {
    this.node = node
    this.sent = false
    const checkout = ++this.#checkouts
    // The wait for a connection has the statement's own limit, whatever the pool's connectionTimeoutMillis.
    const { readMs, writeMs } = this.#context.options.timeouts
    this.deadline = this.#context.connections.deadline(this.toPrimary ? writeMs : readMs)
    // The lease records what the node was when the checkout started, not when its connection comes.
    const granted = this.#context.connections.grant(node)
    node.waiting.add(this)
    // An anonymous callback made here, not a named one per request: toolchains that keep function names (esbuild's
    // keepNames, which tsx uses) would rename a named one for every request. It carries its node and its number: a
    // checkout given up (its node marked down, its budget spent) may answer once the request has gone on.
    node.pool.connect((error: Error | undefined, client: pg.PoolClient | undefined) =>
      this.#connected(node, checkout, granted, error, client),
    )
  }

  #connected(
    node: RouterNode,
    checkout: number,
    granted: Grant,
    error: Error | undefined,
    client: pg.PoolClient | undefined,
  ): void {
    const connections = this.#context.connections
    if (checkout !== this.#checkouts || !node.waiting.remove(this)) connections.late(node, error, client)
    else if (error !== undefined || client === undefined)
      this.#failed(connections.checkoutFailed(node, error))
    else {
      const lease = connections.leased(node, client, this.reason, granted)
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
    const read = this.mode === 'borrowed' ? this.routing.target === 'replica' : !this.toPrimary
    this.deadline = this.#context.connections.deadline(read ? readMs : writeMs)
    lease.node.began(this)
    // Where a session's write lands is bounded from below by what its node had reached before it was sent.
    if (this.session !== undefined) this.#walBefore = lease.node.lsn
    this.sent = true
    if (isSubmittable(query)) {
      // For `router.query` the request ends when the submittable does; a pinned client's settles its caller now
      // (pg's clients hand a submittable back at once), and ends, as a statement, when the submittable does.
      sendSubmittable(this, lease, query, this.#context.connections, (failure) =>
        failure === undefined ? this.#succeeded() : this.#failed(failure),
      )
      if (this.mode !== 'release') {
        this.#fillPin()
        this.#settle(undefined)
      }
    } else {
      this.#writtenBefore = bytesWrittenOf(lease.client)
      try {
        ;(lease.client as unknown as CallbackClient).query(query, this.values, (error, result) =>
          this.#answered(lease, error, result),
        )
      } catch (error) {
        // pg throws synchronously for a missing statement; nothing was sent.
        this.#answered(lease, error as Error, undefined)
      }
    }
  }

  #answered(lease: Lease, error: Error | null | undefined, result: pg.QueryResult | undefined): void {
    const connections = this.#context.connections
    lease.node.ended(this, !error)
    if (error) {
      if (neverWritten(lease.client, this.#writtenBefore, error)) this.sent = false
      const failure = connections.statementFailed(lease, error, !this.sent)
      if (this.mode !== 'borrowed') connections.release(lease, failure)
      this.#failed(failure)
      return
    }
    this.result = result as pg.QueryResult<R>
    if (this.mode === 'release') connections.release(lease)
    this.#succeeded()
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
    } else if (decide(this, error, this.#context) === 'fail') this.#finish(error)
    else this.#slowly(recover(this, error, this.#context))
  }

  // The slow path's hooks: its work settles the request; its attempts await the fast path's steps.

  #slowly(work: Promise<void>): void {
    work.then(
      () => this.#finish(undefined),
      (error: unknown) => this.#finish(error),
    )
  }

  /** {@link AttemptedRequest}: sends the statement on `lease` and waits for it (an attempt of the slow path). */
  run(lease: Lease): Promise<unknown> {
    return new Promise<Lease>((resolve, reject) => {
      this.#attempt = { resolve, reject }
      this.#send(lease)
    })
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
      // What the connection's commits may be made with (synchronous_commit) is known only while no statement
      // that may change it ran there.
      const client = this.lease?.client
      if (this.routing.target === 'primary' && mayChangeCommitLevel(this.routing.reason, this.text))
        taintConnection(client)
      if (session !== undefined && this.routing.target === 'primary' && node?.role === 'primary') {
        const ticket = error === undefined ? commitTicket(client) : undefined
        this.#context.causal.wrote(session, node, this.#walBefore, ticket)
      }
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
