import { AsyncLocalStorage } from 'node:async_hooks'
import type pg from 'pg'
import type { Classification, ClassificationReason, Classifier, RouteTarget } from '../classify/index.js'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { PgRouteError } from '../errors.js'
import { HealthMonitor } from '../health/health-monitor.js'
import { traceToCaller } from '../pg-errors.js'
import { ReplicaSet } from '../replicas/replica-set.js'
import { RouterNode, type StateListener } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import { ReadYourWrites } from '../session/read-your-writes.js'
import { ReadPath, type ReadRequest } from './read-path.js'
import { RejectionLog } from './rejection-log.js'
import type { RerouteEvent, RouteEvent } from './router-events.js'
import {
  type Lease,
  type Outcome,
  type ReleaseMode,
  type Statement,
  StatementRunner,
} from './statement-runner.js'
import { primaryUnavailable } from './unavailable-error.js'

export type { Lease, Outcome, Statement } from './statement-runner.js'

/** How the core reports to the router's events. */
export interface CoreHooks {
  readonly onStateChange: StateListener
  readonly onRoute: ((event: RouteEvent) => void) | undefined
  readonly onReroute: (event: RerouteEvent) => void
}

/** Options of {@link RouterCore.route}. */
export interface RouteOptions {
  /** Keep the connection checked out and return it in the outcome, for a client to pin. */
  readonly keep?: boolean
  /** Run on this connection (a pinned client's, a transaction's) instead of choosing a node. */
  readonly lease?: Lease
  /** Run on the primary whatever the classification allows (`router.primary`). */
  readonly primary?: boolean
}

/** Where a statement goes and why: the classifier's decision, or the router's own (a refused write re-run). */
export interface Routing {
  readonly target: RouteTarget
  readonly reason: ClassificationReason | 'read-only-rejection'
  readonly transaction?: Classification['transaction']
}

/** A statement a replica refused as a write, run again on the primary. */
export const READ_ONLY_REJECTION: Routing = Object.freeze({
  target: 'primary',
  reason: 'read-only-rejection',
})

const NO_OPTIONS: RouteOptions = Object.freeze({})
/**
 * How long a write may take, connecting included, while the primary is marked down: it may be back (a probe
 * that timed out under load), so the write is tried, but a caller never waits longer than this for the answer.
 */
const PRIMARY_DOWN_BUDGET_MS = 800

type Result<R extends pg.QueryResultRow> = Outcome<pg.QueryResult<R>>

/**
 * The router's machinery behind `router.query()`, `router.transaction()`, `router.pool` and its clients. Every
 * statement enters through {@link route}, the one place that chooses between the read path ({@link ReadPath})
 * and the primary, and that tells the session of a write.
 */
export class RouterCore {
  readonly options: ResolvedOptions
  readonly primary: RouterNode
  readonly replicas: readonly RouterNode[]
  readonly monitor: HealthMonitor
  readonly sessions = new AsyncLocalStorage<CausalSession>()
  readonly rejections: RejectionLog
  readonly causal: ReadYourWrites

  readonly #classifier: Classifier
  readonly #runner: StatementRunner
  readonly #reads: ReadPath
  #closing: Promise<void> | undefined

  constructor(options: ResolvedOptions, hooks: CoreHooks) {
    this.options = options
    const onStateChange: StateListener = (node, from, reason) => {
      replicaSet.refresh()
      // Reads are re-run elsewhere at once; writes get the primary's budget (it may have been a slow probe).
      if (node.state === 'down')
        this.#runner.abandon(node, node.role === 'primary' ? PRIMARY_DOWN_BUDGET_MS : 0)
      hooks.onStateChange(node, from, reason)
    }
    this.primary = new RouterNode(options.primary, onStateChange)
    this.replicas = options.replicas.map((spec) => new RouterNode(spec, onStateChange))
    const replicaSet = new ReplicaSet(this.primary, this.replicas, options)
    this.#classifier = options.classifier
    const { onRoute } = hooks
    this.#runner = new StatementRunner([this.primary, ...this.replicas], {
      onConnectionFailure: (node, error) => this.monitor.reportConnectionFailure(node, error),
      onRoute: onRoute && ((node, reason) => onRoute({ node: node.name, role: node.role, reason })),
      sweepEveryMs: sweepInterval(options.timeouts),
    })
    this.monitor = new HealthMonitor(this.primary, this.replicas, options, (text) => this.scrub(text))
    this.rejections = new RejectionLog(hooks.onReroute)
    this.causal = new ReadYourWrites(replicaSet, this.#runner, this.monitor, options)
    this.#reads = new ReadPath({
      runner: this.#runner,
      replicas: replicaSet,
      causal: this.causal,
      sessions: this.sessions,
      retry: options.retry,
      readMs: options.timeouts.readMs,
      rerun: (read, node, error) => this.#rerun(read, node, error),
      rerouted: (node, statement, error) =>
        hooks.onReroute({ from: node.name, reason: 'retry', statement: statement.text.slice(0, 200), error }),
    })
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined
  }

  /** Throws `PGROUTE_CLOSED` once {@link close} was called. */
  assertOpen(): void {
    if (this.#closing !== undefined)
      throw new PgRouteError('PGROUTE_CLOSED', 'The router has been ended; it takes no more queries')
  }

  /** Classifies `sql` with the router's classifier (its `writeFunctions`, its cache). */
  classify(sql: string): Classification {
    return this.#classifier.classify(sql)
  }

  /** Removes every known password from a diagnostic text. */
  scrub(text: string): string {
    let scrubbed = text
    for (const secret of this.options.secrets) scrubbed = scrubbed.split(secret).join('****')
    return scrubbed
  }

  /** Classifies and routes one statement given as pg takes it; resolves to pg's own result. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    query: string | pg.QueryConfig,
    values: unknown[] | undefined,
    options?: RouteOptions,
  ): Promise<pg.QueryResult<R>> {
    this.assertOpen()
    const text = typeof query === 'string' ? query : query.text
    try {
      return (await this.route<R>(this.classify(text), { text, query, values }, options)).value
    } catch (error) {
      // Settled in pg's callbacks: give the error a stack trace that leads back to the caller, as pg does.
      traceToCaller(error)
      throw error
    }
  }

  /**
   * The one dispatch point: runs `statement` on the connection given in `options.lease`, else on a replica when
   * `classification` allows it (there are replicas, and `options.primary` is not set), else on the primary.
   */
  route<R extends pg.QueryResultRow = pg.QueryResultRow>(
    classification: Routing,
    statement: Statement,
    options: RouteOptions = NO_OPTIONS,
  ): Promise<Result<R>> {
    const { lease, keep = false } = options
    if (lease !== undefined) return this.#onLease<R>(lease, classification, statement)
    if (classification.target === 'replica' && this.replicas.length > 0 && options.primary !== true) {
      return this.#reads.read<R>(statement, keep)
    }
    return this.#onPrimary<R>(classification, statement, keep ? 'keep' : 'release')
  }

  /** A connection to pin before any statement: a replica as a read of the current session would get, or the primary. */
  lease(target: RouteTarget, reason: string): Promise<Lease> {
    return target === 'replica' ? this.#reads.lease() : this.#leasePrimary(reason)
  }

  /** Runs a caller's function (a transaction's body) on a leased connection. */
  within<T>(lease: Lease, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#runner.within(lease, use)
  }

  /** Returns a connection to its pool (destroyed after a failure that may have broken it). */
  release(lease: Lease, error?: unknown): void {
    this.#runner.release(lease, error)
  }

  /**
   * Stops health checks and closes every pool the router created (pools passed in stay open: their owner ends
   * them). Waits for checked-out connections to be released. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.monitor.stop()
      const owned = [this.primary, ...this.replicas].filter((node) => node.spec.ownsPool)
      await Promise.all(owned.map((node) => node.pool.end()))
      // After the pools: calls already running may still look up WAL positions (each is bounded).
      await this.causal.close()
      this.#runner.stop()
      this.#runner.detachPools()
    })()
    return this.#closing
  }

  /** A statement on the primary; only connecting is retried, never a statement that may have run. */
  async #onPrimary<R extends pg.QueryResultRow>(
    classification: Routing,
    statement: Statement,
    mode: ReleaseMode,
  ): Promise<Result<R>> {
    try {
      const started = this.primary.state === 'down' ? Date.now() : 0
      const lease = await this.#leasePrimary(classification.reason)
      if (started === 0)
        return await this.#runner.execute<R>(lease, statement, mode, this.options.timeouts.writeMs)
      return await this.#onPrimaryDown<R>(lease, statement, mode, started)
    } catch (error) {
      traceToCaller(error)
      throw error
    } finally {
      this.#completed(this.primary, classification)
    }
  }

  /** A statement on a primary marked down: cancelled (`PGROUTE_PRIMARY_UNAVAILABLE`) once its budget is spent. */
  async #onPrimaryDown<R extends pg.QueryResultRow>(
    lease: Lease,
    statement: Statement,
    mode: ReleaseMode,
    started: number,
  ): Promise<Result<R>> {
    const timer = setTimeout(
      () => this.#runner.cancel(lease, primaryUnavailable(this.primary, undefined) as PgRouteError),
      Math.max(started + PRIMARY_DOWN_BUDGET_MS - Date.now(), 0),
    )
    timer.unref()
    try {
      return await this.#runner.execute<R>(lease, statement, mode, this.options.timeouts.writeMs)
    } finally {
      clearTimeout(timer)
    }
  }

  #onLease<R extends pg.QueryResultRow>(
    lease: Lease,
    classification: Routing,
    statement: Statement,
  ): Promise<Result<R>> {
    const { readMs, writeMs } = this.options.timeouts
    const limitMs = classification.target === 'replica' ? readMs : writeMs
    const running = this.#runner.execute<R>(lease, statement, 'borrowed', limitMs)
    // A statement that cannot have written needs no bookkeeping after it: no promise of ours around pg's.
    return this.#writes(lease.node, classification)
      ? this.#marking(running, lease.node, classification)
      : running
  }

  async #marking<T>(running: Promise<T>, node: RouterNode, classification: Routing): Promise<T> {
    try {
      return await running
    } finally {
      this.#completed(node, classification)
    }
  }

  /** Whether a statement classified as `classification` may write when it runs on `node`. */
  #writes(node: RouterNode, classification: Routing): boolean {
    return node.role === 'primary' && classification.target === 'primary'
  }

  /**
   * A statement ended on `node`: one the classifier sent to the primary may have written, and the session (if
   * any) learns of it. After completion, never before: a read fetching the WAL position in between would miss it.
   */
  #completed(node: RouterNode, classification: Routing): void {
    if (this.#writes(node, classification)) this.sessions.getStore()?.markWrite()
  }

  #rerun<R extends pg.QueryResultRow>(
    read: ReadRequest<R>,
    node: RouterNode,
    error: unknown,
  ): Promise<Result<R>> {
    this.rejections.record(node, read.statement.text, error)
    return this.#onPrimary<R>(READ_ONLY_REJECTION, read.statement, read.keep ? 'keep' : 'release')
  }

  /**
   * A connection to the primary. While the primary is marked down, connecting is given up after
   * {@link PRIMARY_DOWN_BUDGET_MS} with `PGROUTE_PRIMARY_UNAVAILABLE` (the last connection error as `cause`);
   * a connect that fails because the node failed (refused, reset) fails the same way at once. Connects are never
   * retried: nothing was sent, and the monitor brings the primary back.
   */
  #leasePrimary(reason: string): Promise<Lease> {
    if (this.primary.state === 'down') {
      return this.#runner.acquireWithin(this.primary, reason, PRIMARY_DOWN_BUDGET_MS)
    }
    return this.#runner.acquire(this.primary, reason)
  }
}

/** The period of the shared timer that checks statements' time limits: a quarter of the shortest limit. */
function sweepInterval({ readMs, writeMs }: ResolvedOptions['timeouts']): number {
  const limits = [readMs, writeMs].filter((ms) => ms > 0)
  return limits.length === 0 ? 0 : Math.min(Math.max(Math.min(...limits) / 4, 10), 1000)
}
