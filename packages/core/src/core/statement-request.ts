import type pg from 'pg'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { commitTicket, mayChangeCommitLevel, taintConnection } from '../health/connection-watch.js'
import type { RouterTracer } from '../observability/router-tracer.js'
import { isCancelledByRouter } from '../pg-errors.js'
import { type Lease, leaseIsCurrent, roleChangedError } from '../replicas/lease.js'
import type { ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import { type CheckedRead, endPipeline, pipelines, readReplayBefore } from '../session/checked-read.js'
import { READ_YOUR_WRITES_REASON, type ReadYourWrites } from '../session/read-your-writes.js'
import type { Grant, NodeConnections } from './node-connections.js'
import type { Connector, FirstFailure, PrimaryPath } from './primary-path.js'
import type { ReadAttempt, ReadPath } from './read-path.js'
import type { RejectionLog } from './rejection-log.js'
import { decide, type FailedRequest, recover } from './request-recovery.js'
import { type Pin, READ_ONLY_REJECTION, type RouteOptions, type Routing } from './route-options.js'
import { isSubmittable, type Submittable, whenEnded } from './submittable.js'

/**
 * How many times a write the primary ended with 57P01 before it could commit is sent again (each time on another
 * connection): a fast shutdown ends every pooled connection, and a write may meet several of them.
 */
const MAX_RESENDS = 5

/**
 * What happens to a request's connection once its statement ends: `release` it either way; `keep` it checked
 * out on success (the caller pins it), releasing it on failure; `borrowed`: the caller's pin holds it.
 */
export type ReleaseMode = 'release' | 'keep' | 'borrowed'

/** The router's parts every request uses, held once by the router's core and shared by all requests. */
export interface RequestContext {
  readonly replicas: ReplicaSet
  readonly reads: ReadPath
  readonly primaries: PrimaryPath
  readonly connections: NodeConnections
  readonly rejections: RejectionLog
  /** Where a session's writes landed (`wrote`). */
  readonly causal: Pick<ReadYourWrites, 'wrote'>
  readonly tracer: RouterTracer
  readonly options: Pick<ResolvedOptions, 'retry' | 'timeouts'>
}

/**
 * One statement routed by the router, from `RouterCore.route` until it settles: the statement (its text, pg's
 * form of it, its values), where it goes and why, the caller's session, what becomes of its connection, its time
 * limit and its lease. It runs itself: it asks the read path or the primary path for a node, checks a
 * connection out of that node's pool, sends the statement, and settles. It tells the session of a write, and it
 * asks the one failure rule ({@link decide}, in `request-recovery.ts`) what a failure means.
 *
 * A read outside a session that succeeds at once, and a statement on a primary that is up, cost one promise: the
 * request is itself the waiter of its connection and of its result, and nothing else is allocated on that path.
 * Everything after a failure is the slow path, `async` code ({@link recover}).
 *
 * A request without a statement only checks a connection out: a client pinning its node before its first
 * statement. A submittable (pg-cursor, pg-query-stream) runs until it ends; a request for a pinned client settles
 * once it is submitted (pg's clients hand it back at once), one for `router.query` once it has ended.
 */
export class StatementRequest<R extends pg.QueryResultRow = pg.QueryResultRow>
  implements ReadAttempt, Connector, FailedRequest
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
  /**
   * `RunningStatement` / `WaitingCheckout`: when the statement (or its wait for a connection) runs out of time, in
   * ticks of the time-limit timer; 0: no limit.
   */
  deadline = 0
  /** `RunningStatement` / `WaitingCheckout`: position in its node's bag. */
  slot = -1

  readonly #context: RequestContext
  /** The request goes the primary's way (a write, `router.primary`, or a router without replicas). */
  #toPrimary: boolean
  /** When a write began while its primary was marked down (0: it was up): the budget counts from it. */
  #startedAt = 0
  /** The statement was handed to pg in the attempt in flight: it may have run, so it is never re-run. */
  #sent = false
  /** In a session: the WAL position its node was known to have reached when the statement was sent. */
  #walBefore: bigint | undefined = undefined
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
  /** The connection a replay check and this statement were pipelined on, until the statement is answered. */
  #pipelined: pg.PoolClient | undefined = undefined
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
    this.#toPrimary =
      routing.target === 'primary' || options.onPrimary === true || context.replicas.all.length === 0
    if (query !== undefined) this.#traced = context.tracer.traceStatementStart?.(routing.reason)
    // When a write of the session started: a synchronous standby must have been counted since (see causal-session).
    if (session !== undefined && this.#toPrimary) session.writing()
  }

  /** `RunningStatement`: the connection the statement runs on. */
  get client(): pg.PoolClient {
    return this.lease!.client
  }

  /** `RunningStatement`: a statement of the router's, not a transaction's body. */
  get body(): false {
    return false
  }

  /** The caller lets its pinned connection go (`Pin.movable`, set by its holder before each statement). */
  get movable(): boolean {
    return this.pin?.movable === true
  }

  /** The statement is a submittable (a cursor, a stream), which has state: it never runs twice. */
  get submittable(): boolean {
    return isSubmittable(this.query)
  }

  /** The statement was handed to pg in the attempt in flight: it may have run. */
  get sent(): boolean {
    return this.#sent
  }

  /** The request goes the primary's way (a write, `router.primary`, or a router without replicas). */
  get toPrimary(): boolean {
    return this.#toPrimary
  }

  /** The statement runs on its caller's held connection. */
  get borrowed(): boolean {
    return this.mode === 'borrowed'
  }

  /** Runs the request, settling `resolve` / `reject` (the promise `RouterCore.route` awaits). */
  start(resolve: (result: pg.QueryResult<R>) => void, reject: (error: unknown) => void): void {
    this.#resolve = resolve
    this.#reject = reject
    const pin = this.pin
    if (pin !== undefined && pin.lease !== undefined) this.#onHeld(pin.lease)
    else if (pin !== undefined && pin.revoked !== undefined) this.#finish(roleChangedError(pin.revoked))
    else if (this.#toPrimary) this.#toThePrimary()
    else if (this.session === undefined) this.#toAReplica()
    else this.#slowly(this.#read())
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

  // The fast path: choose a node, check out, send, settle.

  /**
   * On the caller's held connection, after the one check it gets before anything is sent on it: is it still what
   * it was when it was checked out (`leaseIsCurrent`)? If not, a replica-pinned client outside a transaction,
   * which holds nothing there, moves; anything else fails with `PGROUTE_ROLE_CHANGED`, nothing sent, and the pin
   * is revoked: its connection closed (the server rolls back what it held open), every later statement failing
   * the same way until the holder lets it go.
   */
  #onHeld(held: Lease): void {
    if (leaseIsCurrent(held)) this.#send(held)
    else if (!this.movable || this.submittable) {
      this.#context.connections.revoke(this.pin!, held)
      this.#finish(roleChangedError(held))
    } else {
      this.leavePin(undefined)
      this.#slowly(this.#toPrimary ? this.#runOnPrimary(undefined) : this.#read())
    }
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
    const checkout = ++this.#checkouts
    // The wait for a connection has the statement's own limit, whatever the pool's connectionTimeoutMillis.
    const { readMs, writeMs } = this.#context.options.timeouts
    this.deadline = this.#context.connections.deadline(this.#toPrimary ? writeMs : readMs)
    // The lease records what the node was when the checkout started, not when its connection comes.
    const granted = this.#context.connections.grant(node)
    node.waiting.add(this)
    // An anonymous callback made here, not a named one per request: toolchains that keep function names
    // (esbuild's keepNames, which tsx uses) would rename a named one for every request. It carries its node and
    // its number: a checkout given up (its node marked down, its budget spent) may still answer once the request
    // has gone on to another one.
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
    const read = this.mode === 'borrowed' ? this.routing.target === 'replica' : !this.#toPrimary
    this.deadline = this.#context.connections.deadline(read ? readMs : writeMs)
    lease.node.began(this)
    // Where a session's write lands is bounded from below by what its node had reached before it was sent.
    if (this.session !== undefined) this.#walBefore = lease.node.lsn
    this.#sent = true
    if (isSubmittable(query)) this.#submit(lease, query)
    else {
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
    // Every statement sent on the connection has its answer: it leaves pipeline mode before it is let go.
    if (this.#pipelined === lease.client) {
      endPipeline(lease.client)
      this.#pipelined = undefined
    }
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
    connections.guardReads(lease, submittable)
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
    } else if (decide(this, error) === 'fail') this.#finish(error)
    else this.#slowly(recover(this, error, this.#context.options.retry, this.#context.reads))
  }

  // The slow path: after a failure, a session's read, a write while the primary is not plainly up.

  #slowly(work: Promise<void>): void {
    work.then(
      () => this.#finish(undefined),
      (error: unknown) => this.#finish(error),
    )
  }

  /** A read that starts on the slow path (in a session, or moved off a pin), its failures decided as any read's. */
  async #read(): Promise<void> {
    try {
      await this.readElsewhere()
    } catch (error) {
      await recover(this, error, this.#context.options.retry, this.#context.reads)
    }
  }

  /** @internal {@link FailedRequest}: the request leaves its caller's held connection. */
  leavePin(error: unknown): void {
    if (this.mode !== 'borrowed') return
    const pin = this.pin!
    const held = pin.lease!
    pin.lease = undefined
    this.mode = 'keep'
    this.#context.connections.release(held, error)
  }

  /** @internal {@link FailedRequest}: on the primary by its failover rules, its first connection having failed. */
  resumeOnPrimary(error: unknown): Promise<void> {
    return this.#runOnPrimary({ startedAt: this.#startedAt || Date.now(), error })
  }

  /** @internal {@link FailedRequest}: see `FailedRequest.safeToResend`. */
  safeToResend(error: unknown): boolean {
    const { lease } = this
    return (
      lease !== undefined &&
      this.mode !== 'borrowed' &&
      !this.submittable &&
      this.routing.transaction === undefined &&
      oneStatement(this.text, this.values) &&
      this.#context.connections.endedBeforeCommit(lease.client, error)
    )
  }

  /** @internal {@link FailedRequest}: the primary ended the statement before it could commit; sent again. */
  resendOnPrimary(error: unknown): Promise<void> {
    return this.#runOnPrimary({ startedAt: this.#startedAt || Date.now(), error, resend: true })
  }

  /** @internal {@link FailedRequest}: a replica refused the statement as a write; it runs on the primary. */
  rerunOnPrimary(error: unknown): Promise<void> {
    this.#context.rejections.record(this.node!, this.text, error)
    this.routing = READ_ONLY_REJECTION
    this.#toPrimary = true
    return this.#runOnPrimary(undefined)
  }

  /** @internal {@link FailedRequest}: an attempt of a read on a node chosen afresh (a replica not tried yet, or the fallback). */
  async readElsewhere(): Promise<void> {
    const reads = this.#context.reads
    const checked = this.#checkable() ? reads.checkedRead(this) : undefined
    if (checked !== undefined && (await this.#checkedRead(checked))) return
    const node = await reads.choose(this)
    const lease = await this.checkout(node, this.reason)
    if (await reads.mayRunOn(this, node, lease.client)) {
      await this.#run(lease)
      return
    }
    // A connection to another server than the one whose replay position the read was sent for: nothing sent.
    this.#context.connections.release(lease)
    await this.#run(await this.checkout(reads.fallback(), 'read-your-writes'))
  }

  /** Whether the statement may be sent right behind a replay check (a plain statement, its connection let go after). */
  #checkable(): boolean {
    const query = this.query
    if (this.mode !== 'release' || query === undefined || this.submittable) return false
    // pg refuses `rows` (a portal kept open) in pipeline mode.
    return typeof query === 'string' || (query as pg.QueryConfig & { rows?: unknown }).rows === undefined
  }

  /**
   * A session's read sent to a replica right behind a read of its replay position, on the same connection and in
   * one round trip, while the position it must see may still be on its way: true when its answer stands (the
   * replica had replayed that position). Else its answer, or its failure, is dropped: it ran on a replica that may
   * not have the session's writes.
   */
  async #checkedRead(checked: CheckedRead): Promise<boolean> {
    const reads = this.#context.reads
    const lease = await this.checkout(checked.node, READ_YOUR_WRITES_REASON).catch((error: unknown) => {
      this.exclude(checked.node)
      throw error
    })
    if (!pipelines(lease.client)) this.#pipelined = lease.client
    const reading = readReplayBefore(lease.client, checked.node)
    let failure: { error: unknown } | undefined
    try {
      await this.#run(lease)
    } catch (error) {
      failure = { error }
    }
    if (!(await reads.confirms(this, checked, await reading, lease.client))) return false
    if (failure !== undefined) throw failure.error
    return true
  }

  /** The statement on the primary, by the primary path's rules; `first`: a connection attempt that failed. */
  async #runOnPrimary(first: FirstFailure | undefined): Promise<void> {
    const primaries = this.#context.primaries
    const startedAt = first?.startedAt ?? primaries.downSince()
    let failure = first
    for (let resends = first?.resend === true ? 1 : 0; ; resends++) {
      const lease = await primaries.checkout(this, this.routing.reason, failure)
      // On a primary marked down, the statement runs within the budget of one.
      const budget = primaries.budget(lease, startedAt)
      try {
        await this.#run(lease)
        return
      } catch (error) {
        // Ended again before it could commit (a shutdown still closing the primary's pooled connections one by
        // one): sent again by the same rules, within the same wait, a bounded number of times.
        if (resends >= MAX_RESENDS || !this.safeToResend(error)) throw error
        failure = { startedAt: failure?.startedAt ?? (startedAt || Date.now()), error, resend: true }
      } finally {
        clearTimeout(budget)
      }
    }
  }

  /** Sends the statement on `lease` and waits for it (an attempt of the slow path). */
  #run(lease: Lease): Promise<unknown> {
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
      if (session !== undefined && this.routing.target === 'primary' && node?.role === 'primary')
        this.#context.causal.wrote(
          session,
          node,
          this.#walBefore,
          error === undefined ? commitTicket(client) : undefined,
        )
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

/**
 * Whether a statement is one statement: with values it went by the extended protocol, which takes one; a text
 * without a `;` before its end is one (a `;` inside a literal only makes this say no, which is safe).
 */
function oneStatement(text: string, values: unknown[] | undefined): boolean {
  if (values !== undefined && values.length > 0) return true
  const end = text.trimEnd()
  const semicolon = end.indexOf(';')
  return semicolon === -1 || semicolon === end.length - 1
}
