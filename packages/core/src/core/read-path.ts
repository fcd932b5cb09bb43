import type { AsyncLocalStorage } from 'node:async_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pRetry from 'p-retry'
import type pg from 'pg'
import { isBusy, isReadOnlyRejection, isRetryableRead, traceToCaller } from '../pg-errors.js'
import type { Lease } from '../replicas/lease.js'
import { type Exclusions, type ReplicaSet, TriedReplicas } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import type { ReadYourWrites } from '../session/read-your-writes.js'
import { type RetryOptions, retryPolicy } from './retry-policy.js'
import type { LeaseWaiter, Outcome, OutcomeWaiter, Statement, StatementRunner } from './statement-runner.js'

type Result<R extends pg.QueryResultRow> = Outcome<pg.QueryResult<R>>

/** How long reads avoid a replica that had no connection slot free: briefly, it is busy, not broken. */
const BUSY_COOL_OFF_MS = 500

/** What the read path needs from the rest of the core. */
export interface ReadContext {
  readonly runner: StatementRunner
  readonly replicas: ReplicaSet
  readonly causal: ReadYourWrites
  readonly sessions: AsyncLocalStorage<CausalSession>
  readonly retry: RetryOptions
  /** `timeouts.readMs`: the time limit of each attempt (0: none). */
  readonly readMs: number
  /** A replica refused `statement` as a write (it changed nothing): record it and re-run it on the primary. */
  rerun<R extends pg.QueryResultRow>(
    read: ReadRequest<R>,
    node: RouterNode,
    error: unknown,
  ): Promise<Result<R>>
  /** A read failed on `node` in a way worth retrying (a `reroute` event). */
  rerouted(node: RouterNode, statement: Statement, error: unknown): void
}

/**
 * One read, across its attempts: the statement, the session it runs in, the replicas it already went to (so a
 * retry goes elsewhere) and the node of the attempt in flight. On the common path (outside a session, first
 * attempt) it is also the waiter of its connection and its outcome, so that path allocates no closures.
 */
export class ReadRequest<R extends pg.QueryResultRow>
  extends TriedReplicas
  implements LeaseWaiter, OutcomeWaiter<R>
{
  readonly statement: Statement
  readonly keep: boolean
  readonly session: CausalSession | undefined
  /** Time limit of each attempt (`timeouts.readMs`). */
  readonly limitMs: number
  /** The node of the attempt in flight. */
  node: RouterNode | undefined = undefined
  readonly #path: ReadPath
  #resolve: ((outcome: Result<R>) => void) | undefined = undefined
  #reject: ((error: unknown) => void) | undefined = undefined

  constructor(path: ReadPath, statement: Statement, keep: boolean, session: CausalSession | undefined) {
    super()
    this.#path = path
    this.statement = statement
    this.keep = keep
    this.session = session
    this.limitMs = path.readMs
  }

  /** Starts the first attempt on `node`, settling through `resolve` / `reject`. */
  start(node: RouterNode, resolve: (outcome: Result<R>) => void, reject: (error: unknown) => void): void {
    this.node = node
    this.#resolve = resolve
    this.#reject = reject
    this.#path.runner.checkout(node, this.#path.replicas.reason(node, this), this)
  }

  /** The first attempt's connection: run the statement on it. */
  leased(lease: Lease): void {
    this.#path.runner.send<R>(lease, this.statement, this.keep ? 'keep' : 'release', this)
  }

  /** The first attempt succeeded. */
  done(outcome: Result<R>): void {
    this.#resolve!(outcome)
  }

  /** The first attempt failed (connecting or running): take the slow path. */
  failed(error: unknown): void {
    this.#path.recover(this, error).then(this.#resolve, this.#reject)
  }
}

/**
 * The read path: a replica (within the lag bounds, having seen the session's writes), retries on another
 * replica then the primary after a connection error or hot-standby conflict, and a refused write re-run on the
 * primary. A read outside a session costs one promise when it succeeds at once; p-retry is only entered after a
 * first failure.
 */
export class ReadPath {
  readonly #context: ReadContext

  constructor(context: ReadContext) {
    this.#context = context
  }

  /** Where reads lease connections and run. */
  get runner(): StatementRunner {
    return this.#context.runner
  }

  /** `timeouts.readMs`. */
  get readMs(): number {
    return this.#context.readMs
  }

  /** The replicas reads choose from. */
  get replicas(): ReplicaSet {
    return this.#context.replicas
  }

  /** Runs a read; with `keep`, its connection stays checked out and is returned in the outcome. */
  read<R extends pg.QueryResultRow>(statement: Statement, keep: boolean): Promise<Result<R>> {
    const request = new ReadRequest<R>(this, statement, keep, this.#context.sessions.getStore())
    if (request.session !== undefined) return this.#withRetries(request)
    // The common case, in one promise: lease and run in one go; a failure takes the slow path.
    let node: RouterNode
    try {
      node = this.#pick(request)
    } catch (error) {
      return Promise.reject(error)
    }
    return new Promise((resolve, reject) => request.start(node, resolve, reject))
  }

  /** A connection for a read of the current session, for a client that pins it before any statement. */
  lease(): Promise<Lease> {
    return this.#lease(this.#context.sessions.getStore(), new TriedReplicas())
  }

  /** The first attempt of a read outside a session failed: re-run a refused write, or retry. */
  recover<R extends pg.QueryResultRow>(request: ReadRequest<R>, error: unknown): Promise<Result<R>> {
    request.exclude(request.node!)
    return this.#afterFailure(request, error) ?? this.#retry(request, error)
  }

  /** {@link ReplicaSet.pick}, passing over replicas that are cooling off after running out of connection slots. */
  #pick(read: Exclusions): RouterNode {
    const { replicas } = this.#context
    let node = replicas.pick(read)
    while (node.coolUntil !== 0 && node.role === 'replica') {
      if (Date.now() >= node.coolUntil) {
        node.coolUntil = 0
        break
      }
      read.exclude(node)
      node = replicas.pick(read)
    }
    return node
  }

  async #withRetries<R extends pg.QueryResultRow>(request: ReadRequest<R>): Promise<Result<R>> {
    try {
      return await this.#attempt(request)
    } catch (error) {
      return this.#retry(request, error)
    }
  }

  /** Retries a read that failed in a way worth retrying (else rethrows). */
  async #retry<R extends pg.QueryResultRow>(request: ReadRequest<R>, error: unknown): Promise<Result<R>> {
    const { retries, minTimeoutMs } = this.#context.retry
    if (retries === 0 || !isRetryableRead(error)) throw error
    // The first attempt ran outside p-retry (the fast path): this is the wait before the first retry.
    if (minTimeoutMs > 0) await sleep(minTimeoutMs, undefined, { ref: false })
    return pRetry(
      () => this.#attempt(request),
      retryPolicy(this.#context.retry, { shouldRetry: isRetryableRead }),
    )
  }

  /** One attempt of a read, its failure handled by {@link #afterFailure}. */
  async #attempt<R extends pg.QueryResultRow>(request: ReadRequest<R>): Promise<Result<R>> {
    const { runner, replicas } = this.#context
    const mode = request.keep ? 'keep' : 'release'
    let running: Promise<Result<R>>
    if (request.session === undefined) {
      const node = this.#pick(request)
      request.node = node
      request.exclude(node)
      const reason = replicas.reason(node, request)
      running = runner
        .acquire(node, reason)
        .then((lease) => runner.execute<R>(lease, request.statement, mode, request.limitMs))
    } else {
      const lease = await this.#lease(request.session, request)
      request.node = lease.node
      running = runner.execute<R>(lease, request.statement, mode, request.limitMs)
    }
    try {
      return await running
    } catch (error) {
      traceToCaller(error)
      const rerun = this.#afterFailure(request, error)
      if (rerun) return rerun
      throw error
    }
  }

  /** A connection for a read: an eligible replica that has seen the session's writes, else the fallback. */
  async #lease(session: CausalSession | undefined, read: TriedReplicas): Promise<Lease> {
    const { causal, replicas, runner } = this.#context
    const required = session === undefined ? undefined : await causal.required(session)
    if (required !== undefined) return causal.lease(required, read)
    const node = this.#pick(read)
    const reason = replicas.reason(node, read)
    read.exclude(node)
    return runner.acquire(node, reason)
  }

  /**
   * A read failed on its node. A replica that refused it as a write changed nothing: it is re-run on the primary
   * (the promise returned). A failure worth a retry is reported as a `reroute` event; the caller retries.
   */
  #afterFailure<R extends pg.QueryResultRow>(
    request: ReadRequest<R>,
    error: unknown,
  ): Promise<Result<R>> | undefined {
    const node = request.node!
    if (node.role === 'replica' && isReadOnlyRejection(error))
      return this.#context.rerun(request, node, error)
    if (isRetryableRead(error)) this.#context.rerouted(node, request.statement, error)
    if (node.role === 'replica' && isBusy(error)) node.coolUntil = Date.now() + BUSY_COOL_OFF_MS
    return undefined
  }
}
