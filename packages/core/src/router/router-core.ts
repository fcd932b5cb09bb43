import { AsyncLocalStorage } from 'node:async_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pRetry from 'p-retry'
import type pg from 'pg'
import { type Classification, type Classifier, createClassifier } from '../classify/index.js'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { PgRouteError } from '../errors.js'
import { HealthMonitor } from '../health/health-monitor.js'
import { parseLsn } from '../health/lsn.js'
import { RouterNode, type StateListener } from '../nodes/router-node.js'
import {
  isConnectionError,
  isReadOnlyRejection,
  isRetryableRead,
  isStatementError,
} from '../routing/database-errors.js'
import { createReplicaSelector, type ReplicaSelector } from '../routing/replica-selector.js'
import type { CausalSession } from '../session/causal-session.js'
import type { RerouteEvent, RouteEvent } from './router-events.js'

/** A connection checked out of one node's pool. */
export interface Lease {
  readonly node: RouterNode
  readonly client: pg.PoolClient
  /** Removes the router's `error` listener from the client (done by `release`). */
  readonly detach: () => void
}

/** What a statement run through the core produced, and (when asked to keep it) the connection it ran on. */
export interface Outcome<T> {
  readonly value: T
  readonly lease: Lease
}

interface CoreHooks {
  readonly onStateChange: StateListener
  readonly onRoute: ((event: RouteEvent) => void) | undefined
  readonly onReroute: (event: RerouteEvent) => void
}

const MAX_REROUTED_STATEMENTS = 100

/**
 * The router's machinery, shared by `router.query()`, `router.transaction()` and the lazily-pinned clients of
 * `router.pool`: choosing a node, leasing a connection, retrying reads, and read-your-writes checks.
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
  closed = false

  readonly #select: ReplicaSelector
  readonly #hooks: CoreHooks
  /** The `error` listeners put on each node's pool, removed again by {@link detachPools}. */
  readonly #poolListeners: Array<readonly [RouterNode, (error: Error) => void]> = []

  constructor(options: ResolvedOptions, hooks: CoreHooks) {
    this.options = options
    this.#hooks = hooks
    this.primary = new RouterNode(options.primary, hooks.onStateChange)
    this.replicas = options.replicas.map((spec) => new RouterNode(spec, hooks.onStateChange))
    this.classifier = createClassifier({
      writeFunctions: options.writeFunctions,
      cacheSize: options.classifierCacheSize,
    })
    this.#select = createReplicaSelector(options.balance)
    for (const node of [this.primary, ...this.replicas]) {
      // An idle pooled connection dropped by a dying server makes pg-pool emit `error`; unhandled, that would
      // crash the process. It is news about the node, not a failure of any caller.
      const listener = (error: Error) => {
        if (isConnectionError(error)) this.monitor.reportConnectionFailure(node, error)
      }
      node.pool.on('error', listener)
      this.#poolListeners.push([node, listener])
    }
    this.monitor = new HealthMonitor(this.primary, this.replicas, options, (text) => this.scrub(text))
  }

  /**
   * Takes the router's `error` listeners off the pools it was given: they outlive the router, and their owner
   * handles their errors. Pools the router created keep theirs: pg-pool's `end()` resolves before its connections
   * have closed, and a server shutting down meanwhile would make a listener-less pool throw.
   */
  detachPools(): void {
    for (const [node, listener] of this.#poolListeners) {
      if (!node.spec.ownsPool) node.pool.removeListener('error', listener)
    }
    this.#poolListeners.length = 0
  }

  /** Removes every known password from a diagnostic text. */
  scrub(text: string): string {
    let scrubbed = text
    for (const secret of this.options.secrets) scrubbed = scrubbed.split(secret).join('****')
    return scrubbed
  }

  classify(sql: string): Classification {
    return this.classifier.classify(sql)
  }

  assertOpen(): void {
    if (this.closed)
      throw new PgRouteError('PGROUTE_CLOSED', 'The router has been ended; it takes no more queries')
  }

  /** Checks a connection out of `node`'s pool; a connection failure marks the node down at once. */
  async acquire(node: RouterNode, reason: string): Promise<Lease> {
    let client: pg.PoolClient
    try {
      client = await node.pool.connect()
    } catch (error) {
      if (isConnectionError(error)) this.monitor.reportConnectionFailure(node, error)
      throw error
    }
    // pg-pool watches a connection for errors only while it is idle; a checked-out connection that loses its
    // server emits `error`, which would crash the process with no listener. It means the node is gone.
    const onError = (error: Error) => {
      if (isConnectionError(error)) this.monitor.reportConnectionFailure(node, error)
    }
    client.on('error', onError)
    this.#hooks.onRoute?.({ node: node.name, role: node.role, reason })
    return { node, client, detach: () => client.removeListener('error', onError) }
  }

  /**
   * Returns a connection to its pool. After a failure other than an ordinary statement error (the server said
   * no, the connection is fine) the connection is destroyed: it may be broken or still busy.
   */
  release(lease: Lease, error?: unknown): void {
    lease.detach()
    const destroy = error !== undefined && !isStatementError(error)
    lease.client.release(destroy ? (error instanceof Error ? error : true) : undefined)
  }

  /** Runs `use` on a leased connection, keeping the node's traffic figures and noticing dead nodes. */
  async run<T>(lease: Lease, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { node } = lease
    node.inFlight++
    try {
      const value = await use(lease.client)
      node.served++
      return value
    } catch (error) {
      if (isConnectionError(error)) this.monitor.reportConnectionFailure(node, error)
      throw error
    } finally {
      node.inFlight--
    }
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
   * A connection for a read: an eligible replica that has seen the session's writes, else the fallback.
   * `tried` holds replicas this read already went to (they are added here), so a retry goes elsewhere.
   */
  async leaseRead(session: CausalSession | undefined, tried: Set<RouterNode>): Promise<Lease> {
    const candidates = this.replicas.filter((node) => node.usable && !tried.has(node))
    const required = session ? await session.required(this.fetchPrimaryLsn) : undefined
    if (required !== undefined) return this.#leaseCaughtUp(candidates, required, tried)
    const node = candidates.length > 0 ? this.#select(candidates) : undefined
    if (node) {
      tried.add(node)
      return this.acquire(node, 'read')
    }
    if (this.options.fallback === 'error' && this.replicas.length > 0) {
      throw new PgRouteError(
        'PGROUTE_NO_ELIGIBLE_NODE',
        `No replica can serve this read (${this.replicas.map((r) => `${r.name}: ${r.state}`).join(', ')}) and fallback is 'error'`,
      )
    }
    return this.acquire(this.primary, tried.size > 0 ? 'retry' : 'fallback')
  }

  /** Read-your-writes: a replica whose replay position has reached `required`, else the primary. */
  async #leaseCaughtUp(candidates: RouterNode[], required: bigint, tried: Set<RouterNode>): Promise<Lease> {
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
  async read<T>(
    statement: string,
    use: (client: pg.PoolClient) => Promise<T>,
    keep = false,
  ): Promise<Outcome<T>> {
    const session = this.sessions.getStore()
    const tried = new Set<RouterNode>()
    const attempt = async (): Promise<Outcome<T>> => {
      const lease = await this.leaseRead(session, tried)
      try {
        const value = await this.run(lease, use)
        if (!keep) this.release(lease)
        return { value, lease }
      } catch (error) {
        this.release(lease, error)
        if (lease.node.role === 'replica' && isReadOnlyRejection(error)) {
          this.recordRejection(lease.node, statement, error)
          return this.write(use, keep, 'read-only-rejection')
        }
        if (isRetryableRead(error)) {
          this.#hooks.onReroute({
            from: lease.node.name,
            reason: 'retry',
            statement: statement.slice(0, 200),
            error,
          })
        }
        throw error
      }
    }
    try {
      return await attempt()
    } catch (error) {
      const { retries, minTimeoutMs, maxTimeoutMs } = this.options.retry
      if (retries === 0 || !isRetryableRead(error)) throw error
      // p-retry runs its first attempt at once: this is the wait before the first retry.
      if (minTimeoutMs > 0) await sleep(minTimeoutMs, undefined, { ref: false })
      return pRetry(attempt, {
        retries: retries - 1,
        minTimeout: Math.min(minTimeoutMs * 2, maxTimeoutMs),
        maxTimeout: maxTimeoutMs,
        factor: 2,
        randomize: false,
        unref: true,
        shouldRetry: ({ error }) => isRetryableRead(error),
      })
    }
  }

  /** Runs a statement on the primary; the session (if any) learns of the write once it has completed. */
  async write<T>(
    use: (client: pg.PoolClient) => Promise<T>,
    keep = false,
    reason = 'write',
  ): Promise<Outcome<T>> {
    const session = this.sessions.getStore()
    const lease = await this.leasePrimary(reason)
    try {
      const value = await this.run(lease, use)
      if (!keep) this.release(lease)
      return { value, lease }
    } catch (error) {
      this.release(lease, error)
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
    this.#hooks.onReroute({ from: node.name, reason: 'read-only-rejection', statement: key, error })
  }
}
