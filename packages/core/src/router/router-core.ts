import { AsyncLocalStorage } from 'node:async_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pRetry from 'p-retry'
import type pg from 'pg'
import {
  type Classification,
  type Classifier,
  createClassifier,
  LearnedRoutes,
  learnedReason,
} from '../classify/index.js'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { PgRouteError } from '../errors.js'
import { HealthMonitor } from '../health/health-monitor.js'
import { parseLsn } from '../health/lsn.js'
import { RouterNode, type StateListener } from '../nodes/router-node.js'
import {
  isConnectionError,
  isReadOnlyRejection,
  isRetryableRead,
  traceToCaller,
} from '../routing/database-errors.js'
import { createReplicaSelector, type ReplicaSelector } from '../routing/replica-selector.js'
import type { CausalSession } from '../session/causal-session.js'
import type { RerouteEvent, RouteEvent } from './router-events.js'
import { type Lease, type Outcome, type Statement, StatementRunner } from './statement-runner.js'

export type { Lease, Outcome, Statement } from './statement-runner.js'

interface CoreHooks {
  readonly onStateChange: StateListener
  readonly onRoute: ((event: RouteEvent) => void) | undefined
  readonly onReroute: (event: RerouteEvent) => void
}

const MAX_REROUTED_STATEMENTS = 100

/**
 * The router's machinery, shared by `router.query()`, `router.transaction()` and the lazily-pinned clients of
 * `router.pool`: choosing a node, leasing a connection, retrying reads, and read-your-writes checks.
 *
 * Every statement passes through here, so the common path is lean: a read outside a session costs one promise
 * (see {@link StatementRunner}), candidate lists are rebuilt on state changes rather than per read, and p-retry
 * is only entered after a first failure.
 */
export class RouterCore {
  readonly options: ResolvedOptions
  readonly primary: RouterNode
  readonly replicas: readonly RouterNode[]
  readonly monitor: HealthMonitor
  readonly classifier: Classifier
  readonly sessions = new AsyncLocalStorage<CausalSession>()
  /** Statements replicas refused as writes, with counts: candidates for the `writeFunctions` option. */
  readonly rerouted = new Map<string, number>()
  /** Texts replicas refused, routed straight to the primary (`learnRouting`). */
  readonly learned: LearnedRoutes | undefined
  closed = false

  readonly #select: ReplicaSelector
  readonly #hooks: CoreHooks
  /** Replicas whose state is `up`, rebuilt on every state change rather than filtered on every read. */
  #usable: readonly RouterNode[] = []
  readonly #statements: StatementRunner

  constructor(options: ResolvedOptions, hooks: CoreHooks) {
    this.options = options
    this.#hooks = hooks
    const onStateChange: StateListener = (node, from, reason) => {
      this.#usable = this.replicas.filter((replica) => replica.usable)
      hooks.onStateChange(node, from, reason)
    }
    this.primary = new RouterNode(options.primary, onStateChange)
    this.replicas = options.replicas.map((spec) => new RouterNode(spec, onStateChange))
    this.classifier = createClassifier({
      writeFunctions: options.writeFunctions,
      cacheSize: options.classifierCacheSize,
    })
    this.learned = options.learnRouting ? new LearnedRoutes() : undefined
    this.#select = createReplicaSelector(options.balance)
    this.#statements = new StatementRunner(
      [this.primary, ...this.replicas],
      (node, error) => this.monitor.reportConnectionFailure(node, error),
      hooks.onRoute,
    )
    this.monitor = new HealthMonitor(this.primary, this.replicas, options, (text) => this.scrub(text))
  }

  /** Takes the router's listeners off the pools it was given (see {@link StatementRunner.detachPools}). */
  detachPools(): void {
    this.#statements.detachPools()
  }

  /** Removes every known password from a diagnostic text. */
  scrub(text: string): string {
    let scrubbed = text
    for (const secret of this.options.secrets) scrubbed = scrubbed.split(secret).join('****')
    return scrubbed
  }

  classify(sql: string): Classification {
    const classification = this.classifier.classify(sql)
    return this.learned === undefined ? classification : this.learned.route(sql, classification)
  }

  assertOpen(): void {
    if (this.closed)
      throw new PgRouteError('PGROUTE_CLOSED', 'The router has been ended; it takes no more queries')
  }

  /** Checks a connection out of `node`'s pool; a connection failure marks the node down at once. */
  acquire(node: RouterNode, reason: string): Promise<Lease> {
    return this.#statements.acquire(node, reason)
  }

  /** Returns a connection to its pool (destroyed after a failure that may have broken it). */
  release(lease: Lease, error?: unknown): void {
    this.#statements.release(lease, error)
  }

  /** Runs one statement on a leased connection the caller keeps. */
  execute<R extends pg.QueryResultRow = pg.QueryResultRow>(
    lease: Lease,
    query: Statement,
    values: unknown[] | undefined,
  ): Promise<pg.QueryResult<R>> {
    return this.#statements.execute<R>(lease, query, values)
  }

  /** Like {@link execute}, for a caller's function that runs its own statements (a transaction's body). */
  run<T>(lease: Lease, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#statements.runFunction(lease, use)
  }

  /**
   * A connection to the primary. Connecting is retried on connection errors (nothing was sent yet, so this
   * can never run a write twice).
   */
  async leasePrimary(reason: string): Promise<Lease> {
    try {
      return await this.acquire(this.primary, reason)
    } catch (error) {
      if (this.options.retry.retries === 0 || !isConnectionError(error)) throw error
    }
    const { retries, maxTimeoutMs } = this.options.retry
    return pRetry(() => this.acquire(this.primary, reason), {
      retries: retries - 1,
      minTimeout: 50,
      maxTimeout: maxTimeoutMs,
      factor: 2,
      randomize: false,
      unref: true,
      shouldRetry: ({ error }) => isConnectionError(error),
    })
  }

  /**
   * The node for a read that need not see any write: an eligible replica (added to `tried`, the replicas this
   * read already went to, so a retry goes elsewhere), else the fallback. Throws `PGROUTE_NO_ELIGIBLE_NODE`.
   */
  #pickRead(tried: Set<RouterNode>): RouterNode {
    const candidates = tried.size === 0 ? this.#usable : this.#usable.filter((node) => !tried.has(node))
    const node = candidates.length > 0 ? this.#select(candidates) : undefined
    if (node) {
      tried.add(node)
      return node
    }
    if (this.options.fallback === 'error' && this.replicas.length > 0) {
      throw new PgRouteError(
        'PGROUTE_NO_ELIGIBLE_NODE',
        `No replica can serve this read (${this.replicas.map((r) => `${r.name}: ${r.state}`).join(', ')}) and fallback is 'error'`,
      )
    }
    return this.primary
  }

  /** Why a read went where it went, for `route` events. */
  #readReason(node: RouterNode, tried: ReadonlySet<RouterNode>): string {
    if (node.role === 'replica') return 'read'
    return tried.size > 0 ? 'retry' : 'fallback'
  }

  /**
   * A connection for a read: an eligible replica that has seen the session's writes, else the fallback.
   * `tried` holds replicas this read already went to (they are added here), so a retry goes elsewhere.
   */
  async leaseRead(session: CausalSession | undefined, tried: Set<RouterNode>): Promise<Lease> {
    const required = session === undefined ? undefined : await session.required(this.fetchPrimaryLsn)
    if (required !== undefined) return this.#leaseCaughtUp(required, tried)
    const node = this.#pickRead(tried)
    return this.acquire(node, this.#readReason(node, tried))
  }

  /** Read-your-writes: a replica whose replay position has reached `required`, else the primary. */
  async #leaseCaughtUp(required: bigint, tried: Set<RouterNode>): Promise<Lease> {
    const candidates = tried.size === 0 ? this.#usable : this.#usable.filter((node) => !tried.has(node))
    const caughtUp = candidates.filter((node) => node.lsn !== undefined && node.lsn >= required)
    const node = caughtUp.length > 0 ? this.#select(caughtUp) : undefined
    if (node) {
      tried.add(node)
      return this.acquire(node, 'read-your-writes')
    }
    const { directCheck, maxWaitMs } = this.options.readYourWrites
    if (directCheck && candidates.length > 0) {
      // The probe data may be up to one interval old: ask the most advanced candidate itself.
      const best = candidates.reduce((a, b) => ((b.lsn ?? 0n) > (a.lsn ?? 0n) ? b : a))
      tried.add(best)
      const lease = await this.acquire(best, 'read-your-writes')
      let caughtUpNow: boolean
      try {
        caughtUpNow = await this.#waitForReplay(lease, required, maxWaitMs)
      } catch (error) {
        this.release(lease, error)
        if (isConnectionError(error)) this.monitor.reportConnectionFailure(best, error)
        throw error
      }
      if (caughtUpNow) return lease
      this.release(lease)
    }
    return this.acquire(this.primary, 'read-your-writes')
  }

  /** Polls the replica's replay position on the leased connection until it reaches `required` or time is up. */
  async #waitForReplay(lease: Lease, required: bigint, maxWaitMs: number): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs
    for (let pause = 1; ; pause = Math.min(pause * 2, 10)) {
      const { rows } = await lease.client.query<{ lsn: string | null }>(
        'SELECT pg_last_wal_replay_lsn()::text AS lsn',
      )
      const lsn = rows[0]?.lsn ? parseLsn(rows[0].lsn) : undefined
      if (lsn !== undefined) {
        this.monitor.observeReplay(lease.node, lsn)
        if (lsn >= required) return true
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0) return false
      await sleep(Math.min(pause, remaining), undefined, { ref: false })
    }
  }

  /** The primary's WAL insert position: everything committed before this call is at or before it. */
  readonly fetchPrimaryLsn = async (): Promise<bigint> => {
    const { rows } = await this.primary.pool.query<{ lsn: string }>(
      'SELECT pg_current_wal_insert_lsn()::text AS lsn',
    )
    const lsn = rows[0] ? parseLsn(rows[0].lsn) : undefined
    if (lsn === undefined) throw new Error('pg_current_wal_insert_lsn() returned no position')
    return lsn
  }

  /**
   * Runs a read with retries: on a connection error or hot-standby conflict the read is tried on another
   * replica, then the primary. A replica that refuses the statement as a write (it changed nothing) sends it to
   * the primary at once. With `keep`, the connection stays checked out and is returned in the outcome.
   */
  read<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    query: Statement,
    values: unknown[] | undefined,
    keep = false,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    const session = this.sessions.getStore()
    const tried = new Set<RouterNode>()
    if (session !== undefined) return this.#readWithRetries<R>(session, tried, text, query, values, keep)
    // The common case, in one promise: lease and run in one go; a failure takes the slow path.
    let node: RouterNode
    try {
      node = this.#pickRead(tried)
    } catch (error) {
      return Promise.reject(error)
    }
    return new Promise((resolve, reject) => {
      const failed = this.#whenReadFails<R>(node, tried, text, query, values, keep, resolve, reject)
      this.#statements.lease(
        node,
        this.#readReason(node, tried),
        (lease) => this.#statements.run<R>(lease, query, values, keep ? 'keep' : 'release', resolve, failed),
        failed,
      )
    })
  }

  /** What a read's first attempt does when it fails: {@link #readFailed}, settling the read's promise. */
  #whenReadFails<R extends pg.QueryResultRow>(
    node: RouterNode,
    tried: Set<RouterNode>,
    text: string,
    query: Statement,
    values: unknown[] | undefined,
    keep: boolean,
    resolve: (outcome: Outcome<pg.QueryResult<R>>) => void,
    reject: (error: unknown) => void,
  ): (error: unknown) => void {
    // Returned, not bound to a name: toolchains that keep function names would rename it on every read.
    return (error) => {
      this.#readFailed<R>(error, node, tried, text, query, values, keep).then(resolve, reject)
    }
  }

  /** The first attempt of a read outside a session failed: re-run a refused write, or retry. */
  async #readFailed<R extends pg.QueryResultRow>(
    error: unknown,
    node: RouterNode,
    tried: Set<RouterNode>,
    text: string,
    query: Statement,
    values: unknown[] | undefined,
    keep: boolean,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    const rerun = this.#afterFailedRead<R>(error, node, text, query, values, keep)
    if (rerun) return rerun
    return this.#retryRead<R>(error, undefined, tried, text, query, values, keep)
  }

  async #readWithRetries<R extends pg.QueryResultRow>(
    session: CausalSession | undefined,
    tried: Set<RouterNode>,
    text: string,
    query: Statement,
    values: unknown[] | undefined,
    keep: boolean,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    try {
      return await this.#readOnce<R>(session, tried, text, query, values, keep)
    } catch (error) {
      return this.#retryRead<R>(error, session, tried, text, query, values, keep)
    }
  }

  /** Retries a read that failed in a way worth retrying (else rethrows): p-retry is only entered here. */
  async #retryRead<R extends pg.QueryResultRow>(
    error: unknown,
    session: CausalSession | undefined,
    tried: Set<RouterNode>,
    text: string,
    query: Statement,
    values: unknown[] | undefined,
    keep: boolean,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    const { retries, minTimeoutMs, maxTimeoutMs } = this.options.retry
    if (retries === 0 || !isRetryableRead(error)) throw error
    // p-retry runs its first attempt at once: this is the wait before the first retry.
    if (minTimeoutMs > 0) await sleep(minTimeoutMs, undefined, { ref: false })
    return pRetry(() => this.#readOnce<R>(session, tried, text, query, values, keep), {
      retries: retries - 1,
      minTimeout: Math.min(minTimeoutMs * 2, maxTimeoutMs),
      maxTimeout: maxTimeoutMs,
      factor: 2,
      randomize: false,
      unref: true,
      shouldRetry: ({ error }) => isRetryableRead(error),
    })
  }

  /** One attempt of a read, its failure handled by {@link #afterFailedRead}. */
  async #readOnce<R extends pg.QueryResultRow>(
    session: CausalSession | undefined,
    tried: Set<RouterNode>,
    text: string,
    query: Statement,
    values: unknown[] | undefined,
    keep: boolean,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    let node: RouterNode
    let running: Promise<Outcome<pg.QueryResult<R>>>
    if (session === undefined) {
      node = this.#pickRead(tried)
      running = this.#statements.runOn<R>(node, this.#readReason(node, tried), query, values, keep)
    } else {
      const lease = await this.leaseRead(session, tried)
      node = lease.node
      running = new Promise((resolve, reject) =>
        this.#statements.run<R>(lease, query, values, keep ? 'keep' : 'release', resolve, reject),
      )
    }
    try {
      return await running
    } catch (error) {
      traceToCaller(error)
      const rerun = this.#afterFailedRead<R>(error, node, text, query, values, keep)
      if (rerun) return rerun
      throw error
    }
  }

  /**
   * A read failed on `node`. A replica that refused it as a write changed nothing: it is re-run on the primary
   * (the promise returned). A failure worth a retry is reported as a `reroute` event; the caller retries.
   */
  #afterFailedRead<R extends pg.QueryResultRow>(
    error: unknown,
    node: RouterNode,
    text: string,
    query: Statement,
    values: unknown[] | undefined,
    keep: boolean,
  ): Promise<Outcome<pg.QueryResult<R>>> | undefined {
    if (node.role === 'replica' && isReadOnlyRejection(error)) {
      this.recordRejection(node, text, error)
      return this.write<R>(query, values, keep, 'read-only-rejection')
    }
    if (isRetryableRead(error)) {
      this.#hooks.onReroute({ from: node.name, reason: 'retry', statement: text.slice(0, 200), error })
    }
    return undefined
  }

  /** Runs a statement on the primary; the session (if any) learns of the write once it has completed. */
  async write<R extends pg.QueryResultRow = pg.QueryResultRow>(
    query: Statement,
    values: unknown[] | undefined,
    keep = false,
    reason = 'write',
  ): Promise<Outcome<pg.QueryResult<R>>> {
    const session = this.sessions.getStore()
    try {
      // Leasing first: only connecting is retried, never a statement that may have run.
      const lease = await this.leasePrimary(reason)
      return await new Promise((resolve, reject) =>
        this.#statements.run<R>(lease, query, values, keep ? 'keep' : 'release', resolve, reject),
      )
    } catch (error) {
      traceToCaller(error)
      throw error
    } finally {
      // After completion, never before: a read fetching the WAL position in between would miss this write.
      session?.markWrite()
    }
  }

  /** Counts a statement a replica refused as a write (it is then re-run on the primary). */
  recordRejection(node: RouterNode, statement: string, error: unknown): void {
    node.rerouted++
    const key = statement.slice(0, 200)
    if (!this.rerouted.has(key) && this.rerouted.size >= MAX_REROUTED_STATEMENTS) {
      this.rerouted.delete(this.rerouted.keys().next().value as string)
    }
    this.rerouted.set(key, (this.rerouted.get(key) ?? 0) + 1)
    const reason = learnedReason(error)
    if (reason !== undefined) this.learned?.learn(statement, reason)
    this.#hooks.onReroute({ from: node.name, reason: 'read-only-rejection', statement: key, error })
  }
}
