import { AsyncLocalStorage } from 'node:async_hooks'
import type pg from 'pg'
import type { Classification, Classifier } from '../classify/index.js'
import type { NodeSpec, ResolvedOptions } from '../config/resolved-options.js'
import { ConfigError, PgRouteError } from '../errors.js'
import { HealthMonitor } from '../health/health-monitor.js'
import type { RouterTracer } from '../observability/router-tracer.js'
import { traceToCaller } from '../pg-errors.js'
import type { Lease } from '../replicas/lease.js'
import { NodeSet, type NodeSetListener } from '../replicas/node-set.js'
import { ReplicaSet } from '../replicas/replica-set.js'
import type { NodeState, RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import { ReadYourWrites } from '../session/read-your-writes.js'
import { CommitOutcomes } from './commit-outcome.js'
import { NodeConnections } from './node-connections.js'
import { PRIMARY_DOWN_BUDGET_MS, PrimaryPath } from './primary-path.js'
import { ReadPath } from './read-path.js'
import { RejectionLog } from './rejection-log.js'
import type { RequestContext } from './request-context.js'
import { emptyPin, type Pin, ROUTE, type RouteOptions, type Routing } from './route-options.js'
import { StatementRequest } from './statement-request.js'
import { type Submittable, textOf } from './submittable.js'

/** Hears of the router's nodes: those there when it starts watching, and every one that joins or leaves. */
export interface NodeWatcher {
  nodeAdded(node: RouterNode): void
  nodeRemoved(node: RouterNode): void
}

/**
 * The router's machinery behind `router.query()`, `router.transaction()`, `router.pool`, `router.primary` and
 * their clients, and the one owner of its lifecycle: it makes every part once, checks in one place that the router
 * is open ({@link assertOpen}: {@link route}, {@link connect}, {@link addNodes}, {@link removeNode}, `ready()`),
 * and closes everything once ({@link close}), whichever `end()` was called.
 *
 * Every statement enters through {@link route}, the public boundary of the statement path: it makes the one
 * {@link StatementRequest} that carries the statement to its end, and gives its errors the caller's stack.
 */
export class RouterCore implements RequestContext, NodeSetListener {
  readonly options: ResolvedOptions
  /** Every node, which one is the primary now, and the topology epoch. */
  readonly nodes: NodeSet
  readonly monitor: HealthMonitor
  readonly sessions = new AsyncLocalStorage<CausalSession>()
  readonly causal: ReadYourWrites
  readonly rejections: RejectionLog
  /** The replicas and the choice among them. */
  readonly replicas: ReplicaSet
  readonly reads: ReadPath
  readonly primaries: PrimaryPath
  readonly connections: NodeConnections
  /** What became of a `COMMIT` whose answer was lost. */
  readonly outcomes: CommitOutcomes
  /** The router's observers as one tracer; see `router-tracer.ts`. */
  readonly tracer: RouterTracer

  readonly #classifier: Classifier
  /** Passwords of every node, added to as nodes join: removed from every diagnostic text. */
  readonly #secrets: string[]
  readonly #watchers: NodeWatcher[] = []
  #closing: Promise<void> | undefined

  constructor(options: ResolvedOptions, tracer: RouterTracer) {
    this.options = options
    this.tracer = tracer
    this.#secrets = [...options.secrets]
    this.#classifier = options.classifier
    this.nodes = new NodeSet(options.nodes, this)
    this.replicas = new ReplicaSet(this.nodes, options)
    const scrub = (text: string) => this.scrub(text)
    // The monitor starts probing here; its timers keep this context, so no probe makes a span.
    this.monitor = this.#background(() => new HealthMonitor(this.nodes, options, scrub))
    this.monitor.onClusterReplaced = (event) => tracer.traceClusterReplaced?.(event)
    this.monitor.onWritesLost = (event) => tracer.traceWritesLost?.(event)
    this.causal = new ReadYourWrites(this.replicas, this.monitor, options)
    this.reads = new ReadPath(this.replicas, this.causal, tracer)
    this.connections = new NodeConnections(
      this.nodes,
      this.monitor,
      tracer,
      sweepInterval(options.timeouts),
      options.healthCheck.timeoutMs,
    )
    this.primaries = new PrimaryPath(this.nodes, this.connections, options, scrub)
    this.rejections = new RejectionLog(tracer, options.learnRouting)
    this.outcomes = new CommitOutcomes(this.nodes, this.monitor, options)
  }

  /** The node writes go to (it changes when the probes see a failover). */
  get primary(): RouterNode {
    return this.nodes.primary
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined
  }

  /**
   * Routes one statement given as pg takes it (text, config object, or a submittable such as a cursor), or, with
   * no `query`, only checks a connection out into `options.pin` (it then resolves to no result). `routing` says
   * where it goes when the caller knows already (it classified the text, or routes by other means: a transaction's
   * own statements, a pin); else the text is classified here. Resolves to pg's own result; errors are pg's own, or
   * pgroute's. A submittable resolves once it has ended, or, on a pin, once it was handed its connection.
   */
  async route<R extends pg.QueryResultRow = pg.QueryResultRow>(
    query: string | pg.QueryConfig | Submittable | undefined,
    values: unknown[] | undefined,
    options: RouteOptions = ROUTE,
    routing?: Routing,
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.start<R>(query, values, options, routing)
    } catch (error) {
      // Settled in pg's callbacks: give the error a stack trace that leads back to the caller, as pg does.
      traceToCaller(error)
      throw error
    }
  }

  /**
   * {@link route} without the caller's stack on its errors: the request's own promise, nothing around it, for a
   * public boundary that repairs the stack itself (a pinned client, whose statement is one promise so). Throws
   * synchronously when the router is closed.
   */
  start<R extends pg.QueryResultRow = pg.QueryResultRow>(
    query: string | pg.QueryConfig | Submittable | undefined,
    values: unknown[] | undefined,
    options: RouteOptions = ROUTE,
    routing?: Routing,
  ): Promise<pg.QueryResult<R>> {
    this.assertOpen()
    const text = query === undefined ? '' : textOf(query)
    routing ??= this.classify(text)
    const session = this.sessions.getStore()
    const request = new StatementRequest<R>(this, text, query, values, routing, session, options)
    // An idle router probes less: a statement never chooses a node on probe data older than one interval.
    if (this.monitor.stale)
      return this.monitor
        .fresh()
        .then(() => new Promise<pg.QueryResult<R>>((resolve, reject) => request.start(resolve, reject)))
    return new Promise<pg.QueryResult<R>>((resolve, reject) => request.start(resolve, reject))
  }

  /**
   * The pin of a new client: empty until its first statement checks a connection out for it. `reuse`: the pin of
   * a released client that takes a new checkout, emptied.
   */
  connect(reuse?: Pin): Pin {
    this.assertOpen()
    if (reuse === undefined) return emptyPin()
    reuse.lease = undefined
    reuse.movable = false
    return reuse
  }

  /** Tells `watcher` of every node now, and of every node that joins or leaves from now on. */
  watchNodes(watcher: NodeWatcher): void {
    this.#watchers.push(watcher)
    for (const node of this.nodes.all) watcher.nodeAdded(node)
  }

  /** Runs a caller's function (a transaction's body) on a leased connection. */
  within<T>(lease: Lease, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.connections.within(lease, use)
  }

  /** Returns a connection to its pool (destroyed after a failure that may have broken it). */
  release(lease: Lease, error?: unknown): void {
    this.connections.release(lease, error)
  }

  /**
   * Classifies `sql` with the router's classifier (its `writeFunctions`, its cache), then sends a text a replica
   * refused before to the primary (`learnRouting`).
   */
  classify(sql: string): Classification {
    return this.rejections.learned(sql, this.#classifier.classify(sql))
  }

  /** Removes every known password from a diagnostic text. */
  scrub(text: string): string {
    let scrubbed = text
    for (const secret of this.#secrets) scrubbed = scrubbed.split(secret).join('****')
    return scrubbed
  }

  /**
   * Adds nodes at runtime (all or none: a bad name adds none); resolves once their first probe was judged (they
   * then take reads if they may).
   */
  async addNodes(specs: ReadonlyArray<NodeSpec & { readonly password: string | undefined }>): Promise<void> {
    const endOwned = () => Promise.all(specs.map((spec) => (spec.ownsPool ? spec.pool.end() : undefined)))
    try {
      this.assertOpen()
      const names = new Set<string>()
      for (const { name } of specs) {
        if (this.nodes.byName(name) || names.has(name))
          throw new ConfigError('node', `duplicate node name '${name}'`)
        names.add(name)
      }
    } catch (error) {
      await endOwned()
      throw error
    }
    const added = specs.map((spec) => {
      if (spec.password) this.#secrets.push(spec.password)
      const node = this.nodes.add(spec)
      this.connections.watch(node)
      for (const watcher of this.#watchers) watcher.nodeAdded(node)
      return node
    })
    // The new nodes' probes run outside the caller's trace, as every other node's.
    await this.#background(() => Promise.all(added.map((node) => this.monitor.add(node))))
  }

  /**
   * Removes a node at runtime: it takes no new statement at once; resolves once the statements and clients
   * using it have finished and (if the router created it) its pool has ended.
   */
  async removeNode(name: string): Promise<void> {
    this.assertOpen()
    const node = this.nodes.byName(name)
    if (!node) throw new ConfigError('name', `no node named ${JSON.stringify(String(name).slice(0, 100))}`)
    if (node === this.nodes.primary) {
      throw new PgRouteError(
        'PGROUTE_NO_ELIGIBLE_NODE',
        `${node.name} is the primary: it can be removed once another node leads`,
      )
    }
    this.nodes.remove(node)
    for (const watcher of this.#watchers) watcher.nodeRemoved(node)
    await this.#background(() => this.monitor.remove(node))
    this.causal.forget(node)
    if (node.spec.ownsPool) await node.pool.end()
    else while (node.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10).unref())
    this.connections.detach(node)
  }

  /**
   * Ends everything, once, whichever `end()` asked: the tracer (metric callbacks), health checks, every pool the
   * router created (pools passed in stay open: their owner ends them), the router's own connections. Waits up to
   * {@link END_GRACE_MS} for checked-out connections to be released, then closes their sockets: it resolves in
   * bounded time whatever the nodes (or the callers holding clients) do. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.tracer.close?.()
      this.primaries.close()
      await this.monitor.stop()
      const owned = this.nodes.all.filter((node) => node.spec.ownsPool)
      const ended = Promise.all(owned.map((node) => node.pool.end()))
      if (!(await settlesWithin(ended, END_GRACE_MS))) {
        // Connections still checked out (a hung node's statement, a client never released): closed now.
        this.connections.closeAll(
          this.nodes.all,
          new PgRouteError(
            'PGROUTE_CLOSED',
            `The router was ended; its connection was closed after ${END_GRACE_MS} ms`,
          ),
        )
        await settlesWithin(ended, 1000)
      }
      // After the pools: calls already running may still look up WAL positions (each is bounded).
      this.causal.close()
      await this.monitor.close()
      this.connections.stop()
      this.connections.detachPools()
    })()
    return this.#closing
  }

  /** @internal {@link NodeSetListener}: reads leave a node marked down at once, writes after its budget. */
  nodeStateChanged(node: RouterNode, from: NodeState, reason: string): void {
    if (node.state === 'down')
      this.connections.abandon(node, node.role === 'primary' ? PRIMARY_DOWN_BUDGET_MS : 0)
    this.tracer.traceNodeState?.({ node: node.name, role: node.role, from, to: node.state, reason })
  }

  /** @internal {@link NodeSetListener}: writes go to another node now. */
  primaryChanged(from: RouterNode, to: RouterNode, reason: string): void {
    this.tracer.tracePrimaryChange?.({
      from: from.name,
      to: to.name,
      timeline: this.nodes.timeline,
      reason: `${to.name} ${reason}`,
    })
  }

  /** @internal {@link NodeSetListener}: transaction bodies running on `node` were granted what it no longer is. */
  roleChanged(node: RouterNode): void {
    this.connections.revokeBodies(node)
  }

  /** The one check that the router is open: everything that starts work passes here (`PGROUTE_CLOSED`). */
  assertOpen(): void {
    if (this.#closing !== undefined)
      throw new PgRouteError('PGROUTE_CLOSED', 'The router has been ended; it takes no more queries')
  }

  /** Runs the router's own background work (probes) outside the caller's trace. */
  #background<T>(work: () => T): T {
    const { tracer } = this
    return tracer.traceBackground ? tracer.traceBackground(work) : work()
  }
}

/**
 * How long `close()` waits for the connections still checked out of the pools it created to be released, before it
 * closes their sockets (their statements fail with `PGROUTE_CLOSED`) and resolves.
 */
export const END_GRACE_MS = 5000

/** Whether `promise` settles within `ms` (the timer never holds the process open). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
    timer.unref()
  })
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** The period of the shared timer that checks statements' time limits: a quarter of the shortest limit. */
function sweepInterval({ readMs, writeMs }: ResolvedOptions['timeouts']): number {
  const limits = [readMs, writeMs].filter((ms) => ms > 0)
  return limits.length === 0 ? 0 : Math.min(Math.max(Math.min(...limits) / 4, 10), 1000)
}
