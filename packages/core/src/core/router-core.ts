import { AsyncLocalStorage } from 'node:async_hooks'
import type pg from 'pg'
import type { Classification, Classifier, RouteTarget } from '../classify/index.js'
import type { NodeSpec, ResolvedOptions } from '../config/resolved-options.js'
import { ConfigError, PgRouteError } from '../errors.js'
import { HealthMonitor } from '../health/health-monitor.js'
import { traceToCaller } from '../pg-errors.js'
import { NodeSet } from '../replicas/node-set.js'
import { ReplicaSet } from '../replicas/replica-set.js'
import { RouterNode, type StateListener } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import { ReadYourWrites } from '../session/read-your-writes.js'
import { PRIMARY_DOWN_BUDGET_MS, PrimaryPath } from './primary-path.js'
import { ReadPath, type ReadRequest } from './read-path.js'
import { RejectionLog } from './rejection-log.js'
import {
  type CoreHooks,
  READ_ONLY_REJECTION,
  type RouteOptions,
  type Routing,
  type StatementObserver,
} from './route-types.js'
import { type Lease, type Outcome, type Statement, StatementRunner } from './statement-runner.js'

export type { Lease, Outcome, Statement } from './statement-runner.js'

const NO_OPTIONS: RouteOptions = Object.freeze({})
const KEEP: RouteOptions = Object.freeze({ keep: true })

type Result<R extends pg.QueryResultRow> = Outcome<pg.QueryResult<R>>

/**
 * The router's machinery behind `router.query()`, `router.transaction()`, `router.pool` and its clients. Every
 * statement enters through {@link route}, the one place that chooses between the read path ({@link ReadPath})
 * and the primary, and that tells the session of a write.
 */
export class RouterCore {
  readonly options: ResolvedOptions
  /** Every node and which one is the primary now. */
  readonly nodes: NodeSet
  readonly monitor: HealthMonitor
  readonly sessions = new AsyncLocalStorage<CausalSession>()
  readonly rejections: RejectionLog
  readonly causal: ReadYourWrites

  readonly #classifier: Classifier
  readonly #runner: StatementRunner
  readonly #reads: ReadPath
  readonly #primaryPath: PrimaryPath
  readonly #replicaSet: ReplicaSet
  readonly #onStateChange: StateListener
  /** Passwords of every node, added to as nodes join: removed from every diagnostic text. */
  readonly #secrets: string[]
  readonly #observe: StatementObserver | undefined
  readonly #untraced: <T>(fn: () => T) => T
  #closing: Promise<void> | undefined

  constructor(options: ResolvedOptions, hooks: CoreHooks) {
    this.options = options
    this.#secrets = [...options.secrets]
    this.#onStateChange = (node, from, reason) => {
      replicaSet.refresh()
      // Reads are re-run elsewhere at once; writes get the primary's budget (it may have been a slow probe).
      if (node.state === 'down')
        this.#runner.abandon(node, node.role === 'primary' ? PRIMARY_DOWN_BUDGET_MS : 0)
      hooks.onStateChange(node, from, reason)
    }
    const nodes = options.nodes.map((spec) => new RouterNode(spec, this.#onStateChange))
    this.nodes = new NodeSet(nodes, hooks.onPrimaryChange, () => replicaSet.refresh())
    const replicaSet = new ReplicaSet(this.nodes, options)
    replicaSet.refresh()
    this.#replicaSet = replicaSet
    this.#classifier = options.classifier
    this.#observe = hooks.observe
    const untraced = hooks.untraced ?? ((fn) => fn())
    this.#untraced = untraced
    this.#runner = new StatementRunner(nodes, {
      // The re-probes this schedules keep the context they start in: not the failed statement's trace.
      onConnectionFailure: (node, error) => untraced(() => this.monitor.reportConnectionFailure(node, error)),
      onRoute: hooks.onRoute,
      sweepEveryMs: sweepInterval(options.timeouts),
    })
    // The monitor starts probing here; its timers keep this context, so no probe makes a span.
    this.monitor = untraced(() => new HealthMonitor(this.nodes, options, (text) => this.scrub(text)))
    this.rejections = new RejectionLog(hooks.onReroute, options.learnRouting)
    this.#primaryPath = new PrimaryPath({
      nodes: this.nodes,
      runner: this.#runner,
      options,
      scrub: (text) => this.scrub(text),
      closed: () => this.closed,
      completed: (node, routing, session) => this.#completed(node, routing, session),
    })
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

  /** The node writes go to now (it changes when the probes see a failover). */
  get primary(): RouterNode {
    return this.nodes.primary
  }

  /** Every other node now: replicas, and nodes fenced or down. */
  get replicas(): readonly RouterNode[] {
    return this.#replicaSet.all
  }

  /** Adds a node at runtime; resolves once its first probe was judged (it then takes reads if it may). */
  async addNode(spec: NodeSpec & { readonly password: string | undefined }): Promise<void> {
    this.assertOpen()
    if (this.nodes.byName(spec.name)) {
      if (spec.ownsPool) await spec.pool.end()
      throw new ConfigError('node', `duplicate node name '${spec.name}'`)
    }
    if (spec.password) this.#secrets.push(spec.password)
    const node = new RouterNode(spec, this.#onStateChange)
    this.#runner.watch(node)
    this.nodes.add(node)
    // The new node's probes run outside the caller's trace, as every other node's.
    await this.#untraced(() => this.monitor.add(node))
  }

  /**
   * Removes a node at runtime: it takes no new statement at once; resolves once the statements and clients
   * using it have finished and (if the router created it) its pool has ended.
   */
  async removeNode(name: string): Promise<void> {
    const node = this.nodes.byName(name)
    if (!node) throw new ConfigError('name', `no node named ${JSON.stringify(String(name).slice(0, 100))}`)
    if (node === this.nodes.primary) {
      throw new PgRouteError(
        'PGROUTE_NO_ELIGIBLE_NODE',
        `${node.name} is the primary: it can be removed once another node leads`,
      )
    }
    this.nodes.remove(node)
    await this.#untraced(() => this.monitor.remove(node))
    await this.causal.forget(node)
    if (node.spec.ownsPool) await node.pool.end()
    else while (node.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10).unref())
    this.#runner.detach(node)
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

  /**
   * Classifies `sql` with the router's classifier (its `writeFunctions`, its cache), then sends a text a replica
   * refused before to the primary (`learnRouting`).
   */
  classify(sql: string): Classification {
    return this.rejections.route(sql, this.#classifier.classify(sql))
  }

  /** Removes every known password from a diagnostic text. */
  scrub(text: string): string {
    let scrubbed = text
    for (const secret of this.#secrets) scrubbed = scrubbed.split(secret).join('****')
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
    const routed = this.#dispatch<R>(classification, statement, options)
    return this.#observe === undefined ? routed : this.#observe(routed, classification)
  }

  #dispatch<R extends pg.QueryResultRow>(
    classification: Routing,
    statement: Statement,
    options: RouteOptions,
  ): Promise<Result<R>> {
    const { lease, keep = false } = options
    if (lease !== undefined) return this.#onLease<R>(lease, classification, statement)
    if (classification.target === 'replica' && this.replicas.length > 0 && options.primary !== true) {
      return this.#reads.read<R>(statement, keep)
    }
    return this.#primaryPath.run<R>(
      classification,
      statement,
      keep ? 'keep' : 'release',
      this.sessions.getStore(),
    )
  }

  /** Runs a transaction's `BEGIN` as `classification` says, keeping its connection for the transaction. */
  async begin(classification: Routing, statement: Statement): Promise<Lease> {
    try {
      return (await this.route(classification, statement, KEEP)).lease
    } catch (error) {
      traceToCaller(error)
      throw error
    }
  }

  /** A connection to pin before any statement: a replica as a read of the current session would get, or the primary. */
  lease(target: RouteTarget, reason: string): Promise<Lease> {
    return target === 'replica' ? this.#reads.lease() : this.#primaryPath.lease(reason)
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
      const owned = this.nodes.all.filter((node) => node.spec.ownsPool)
      await Promise.all(owned.map((node) => node.pool.end()))
      // After the pools: calls already running may still look up WAL positions (each is bounded).
      await this.causal.close()
      this.#runner.stop()
      this.#runner.detachPools()
    })()
    return this.#closing
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
      this.#completed(node, classification, this.sessions.getStore())
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
  #completed(node: RouterNode, classification: Routing, session: CausalSession | undefined): void {
    if (this.#writes(node, classification)) session?.markWrite()
  }

  #rerun<R extends pg.QueryResultRow>(
    read: ReadRequest<R>,
    node: RouterNode,
    error: unknown,
  ): Promise<Result<R>> {
    this.rejections.record(node, read.statement.text, error)
    // The read's own session: this may run in a callback of pg's, where the current one is another's.
    const mode = read.keep ? 'keep' : 'release'
    return this.#primaryPath.run<R>(READ_ONLY_REJECTION, read.statement, mode, read.session)
  }
}

/** The period of the shared timer that checks statements' time limits: a quarter of the shortest limit. */
function sweepInterval({ readMs, writeMs }: ResolvedOptions['timeouts']): number {
  const limits = [readMs, writeMs].filter((ms) => ms > 0)
  return limits.length === 0 ? 0 : Math.min(Math.max(Math.min(...limits) / 4, 10), 1000)
}
