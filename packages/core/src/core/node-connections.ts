import type pg from 'pg'
import { hideClient, isPgRouteError, type Outcome, type PgRouteError, withOutcome } from '../errors.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import type { RouterTracer } from '../observability/router-tracer.js'
import {
  cancelledByRouter,
  type ErrorOrigin,
  isConnectionError,
  isRefusedByPooler,
  isStatementError,
  isTerminatedBeforeCommit,
} from '../pg-errors.js'
import { type Lease, roleChangedError } from '../replicas/lease.js'
import { nodeDownError, primaryUnavailable } from '../replicas/node-errors.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode, RunningStatement } from '../replicas/router-node.js'
import { settlePipeline } from '../session/checked-read.js'
import { guardedClient, guardReads } from './guarded-client.js'
import type { Pin } from './route-options.js'
import { bodyGraceMs, StatementCanceller, whileDown } from './statement-canceller.js'
import { failSubmittable, type Submittable } from './submittable.js'

/** The role and topology epoch a checkout was started under (see {@link NodeConnections.grant}). */
export type Grant = Pick<Lease, 'role' | 'epoch'>

/**
 * The nodes' connections as the statement path uses them: what happens around a checkout (the lease and its
 * epoch, the connection's `error` listener, the `route` trace), what a failure means for the node (a connection
 * error reports it to the health monitor), time limits and cancel-on-down ({@link StatementCanceller}), and the
 * release of a connection. The statements themselves never pass through here: `StatementRequest` checks out and
 * sends, and calls these at each step.
 */
export class NodeConnections {
  readonly #nodes: NodeSet
  readonly #monitor: HealthMonitor
  readonly #tracer: RouterTracer
  /** One `error` listener per node, for its pool and for each of its connections. */
  readonly #listeners = new Map<RouterNode, (error: Error, client?: pg.PoolClient) => void>()
  /** Connections that already carry their node's listener (kept aside: pg's objects are not ours to extend). */
  readonly #watched = new WeakSet<pg.PoolClient>()
  /**
   * Connections that were warned a commit of theirs is local only (a commit whose wait for a synchronous standby
   * was cut, as a fast shutdown does: "The transaction has already committed locally"): a 57P01 after it is no
   * proof the statement did not commit.
   */
  readonly #committedLocally = new WeakSet<pg.PoolClient>()
  /** Time limits and cancel-on-down of what runs on the nodes' connections. */
  readonly #canceller: StatementCanceller

  /** @param sweepEveryMs How often running statements are checked against their time limits (0: never). */
  constructor(
    nodes: NodeSet,
    monitor: HealthMonitor,
    tracer: RouterTracer,
    sweepEveryMs: number,
    probeTimeoutMs: number,
  ) {
    this.#nodes = nodes
    this.#monitor = monitor
    this.#tracer = tracer
    this.#canceller = new StatementCanceller(sweepEveryMs, bodyGraceMs(probeTimeoutMs))
    for (const node of nodes.all) this.watch(node)
  }

  /**
   * Takes a node in (every node, including those added at runtime): its statements are checked against their
   * time limits, and its pool is listened to.
   */
  watch(node: RouterNode): void {
    this.#canceller.track(node)
    // A connection whose server goes away emits `error`: pg-pool forwards it to the pool while the connection
    // is idle, and unhandled either would crash the process. It is news about the node, not a caller's failure.
    const listener = (error: Error, client?: pg.PoolClient) => {
      // pg-pool attaches the connection (its password in its parameters) to the error of an idle one.
      hideClient(error)
      // The pool repeats what a watched connection already reported through its own listener.
      if (client && this.#watched.has(client)) return
      this.#noteFailure(node, error, client)
    }
    node.pool.on('error', listener)
    this.#listeners.set(node, listener)
  }

  /**
   * Takes the `error` listeners off the pools the router was given: they outlive the router, and their owner
   * handles their errors. Pools the router created keep theirs: pg-pool's `end()` resolves before its connections
   * have closed, and a server shutting down meanwhile would make a listener-less pool throw. (Connections of a
   * given pool keep their listener, which does nothing once the router has ended.)
   */
  detachPools(): void {
    for (const node of this.#listeners.keys()) this.detach(node)
  }

  /** Takes the `error` listener off one node's pool when the router was given it (see {@link detachPools}). */
  detach(node: RouterNode): void {
    this.#canceller.untrack(node)
    const listener = this.#listeners.get(node)
    if (listener && !node.spec.ownsPool) node.pool.removeListener('error', listener)
    // A removed node (and its pool) must not stay reachable from here.
    if (node.removed) this.#listeners.delete(node)
  }

  /**
   * The router is ending and connections are still checked out of the pools it created: what runs on them is
   * cancelled with `reason`, and every connection of those pools has its socket closed (pg-pool's end waits for
   * them otherwise, as long as a hung node or a caller holding a client keeps them).
   */
  closeAll(nodes: readonly RouterNode[], reason: PgRouteError): void {
    for (const node of nodes) {
      for (const { client } of node.running.snapshot()) this.#canceller.cancel(client, reason)
      if (!node.spec.ownsPool) continue
      const clients = (node.pool as unknown as { _clients?: readonly pg.PoolClient[] })._clients ?? []
      for (const client of clients) this.#canceller.discard(client)
    }
  }

  /** Stops the time-limit checks and closes cancel requests still in flight. */
  stop(): void {
    this.#canceller.stop()
  }

  /**
   * `node` was marked down: after `graceMs` (if it is still down), statements running on it are cancelled (their
   * connections closed) and checkouts waiting for one of its connections fail, all with `PGROUTE_NODE_DOWN`, so
   * that nobody waits out a hung node. Transaction bodies get a longer grace (see {@link StatementCanceller.abandon}).
   */
  abandon(node: RouterNode, graceMs = 0): void {
    this.#canceller.abandon(node, graceMs)
    whileDown(node, graceMs, () => {
      for (const checkout of node.waiting.takeAll())
        checkout.checkoutFailed(this.#failure(node, cancelledByRouter(nodeDownError(node)), 'aborted'))
    })
  }

  /**
   * A connection of `node` was checked out (for `reason`, which `route` events tell): it gets its node's `error`
   * listener (pg-pool watches a connection only while it is idle; a checked-out connection that loses its server
   * would crash the process with none), and a lease recording the node's role and the topology epoch.
   */
  leased(node: RouterNode, client: pg.PoolClient, reason: string, granted: Grant): Lease {
    if (!this.#watched.has(client)) {
      this.#watched.add(client)
      client.on('error', (clientError) => {
        if (!this.#canceller.discarded(client)) this.#noteFailure(node, clientError, client)
      })
      client.on('notice', (notice: { message?: string; detail?: string }) => {
        if (`${notice.message} ${notice.detail}`.includes('committed locally'))
          this.#committedLocally.add(client)
      })
    }
    node.leasedFor(reason)
    this.#tracer.traceCheckout?.(node, reason)
    return { node, client, role: granted.role, epoch: granted.epoch }
  }

  /**
   * What `node` is now, for a checkout starting now: the lease it gives records this, not what the node is when the
   * connection comes (a node fenced while a connect was pending must not stamp the connection as current).
   */
  grant(node: RouterNode): Grant {
    return { role: node.role, epoch: this.#nodes.epoch }
  }

  /** A connection that came after its checkout was given up (its node was abandoned): back to its pool. */
  late(node: RouterNode, error: Error | undefined, client: pg.PoolClient | undefined): void {
    if (error) this.#noteFailure(node, error, 'connect')
    client?.release()
  }

  /** A checkout of `node` failed with `error` (a connection error marks the node down): what its caller sees. */
  checkoutFailed(node: RouterNode, error: Error | undefined): unknown {
    this.#noteFailure(node, error, 'connect')
    return this.#failure(node, error ?? new Error('pg-pool returned no connection'), 'aborted')
  }

  /**
   * A statement failed on `lease` with pg's `error`: what its caller sees. The router's own reason when it
   * cancelled the statement (its time limit, its node marked down), and then the node hears nothing of it; else
   * pg's error, a connection error marking the node down; on the primary, a failure of the node's own as
   * `PGROUTE_PRIMARY_UNAVAILABLE`. `unsent`: no byte of the statement was written (see `neverWritten`).
   */
  statementFailed(lease: Lease, error: unknown, unsent = false): unknown {
    const cancelled = this.#canceller.takeReason(lease.client)
    if (cancelled === undefined) this.#noteFailure(lease.node, error, lease.client)
    const outcome = unsent || this.endedBeforeCommit(lease.client, error) ? 'aborted' : 'unknown'
    return this.#failure(lease.node, cancelled ?? error, outcome)
  }

  /**
   * Whether the statement that failed on `client` with `error` certainly did not commit: the server ended it before
   * it could (57P01, see `isTerminatedBeforeCommit`) and no warning said a commit of the connection was left local,
   * or PgBouncer refused it before any server had it ({@link refusedByPooler}).
   */
  endedBeforeCommit(client: pg.PoolClient, error: unknown): boolean {
    if (this.refusedByPooler(error)) return true
    const raw = isPgRouteError(error) ? error.cause : error
    return isTerminatedBeforeCommit(raw) && !this.#committedLocally.has(client)
  }

  /**
   * Whether PgBouncer refused the statement that failed with `error` (or the router's error of it) before any server
   * had it, its server gone (see `isRefusedByPooler`): like a connect that failed, nothing was sent to a server.
   */
  refusedByPooler(error: unknown): boolean {
    return isRefusedByPooler(isPgRouteError(error) ? error.cause : error)
  }

  /**
   * `pin`'s lease was found stale (its node fenced, or no longer what it was at checkout): the pin gives it up for
   * good ({@link Pin.revoked}) and its connection is closed, never pooled again, so that the server rolls back a
   * transaction open on it.
   */
  revoke(pin: Pin, lease: Lease): void {
    if (pin.lease === lease) pin.lease = undefined
    pin.revoked = lease
    const { client } = lease
    // Marked first: the close's own errors are no news about the node.
    this.#canceller.discard(client)
    client.release(true)
  }

  /**
   * `node` was fenced or changed role: transaction bodies running on it are cancelled now, their connections
   * closed (the server rolls them back). Their next statement, and their `COMMIT`, would be refused anyway; closing
   * at once frees what they hold on a node that is no longer what they were granted.
   */
  revokeBodies(node: RouterNode): void {
    for (const running of node.running.snapshot())
      if (running.body && running.lease !== undefined)
        this.#canceller.cancel(running.client, roleChangedError(running.lease))
  }

  /**
   * Makes a cursor or stream submitted on `lease` check the lease before each later read: once its node was fenced
   * or changed role, the read fails with `PGROUTE_ROLE_CHANGED` and the connection is closed.
   */
  guardReads(lease: Lease, submittable: Submittable): void {
    guardReads(lease, submittable, (stale, cursor) => {
      failSubmittable(cursor, roleChangedError(stale))
      this.#canceller.discard(stale.client)
    })
  }

  /** Why the router cancelled what ran on `client`, if it did (forgotten once taken); else `error`. */
  reasonFor(client: pg.PoolClient, error: unknown): unknown {
    return this.#canceller.takeReason(client) ?? error
  }

  /** The deadline of a statement starting now with a limit of `limitMs` (0: none), for `RunningStatement`. */
  deadline(limitMs: number): number {
    return this.#canceller.deadline(limitMs)
  }

  /** Cancels the statement running on `lease`, if one still is: it fails with `reason`. */
  cancel(lease: Lease, reason: PgRouteError): void {
    if (lease.node.running.snapshot().some(({ client }) => client === lease.client))
      this.#canceller.cancel(lease.client, reason)
  }

  /**
   * Returns a connection to its pool. After a failure other than an ordinary statement error (the server said
   * no, the connection is fine) the connection is destroyed: it may be broken or still busy.
   */
  release(lease: Lease, error?: unknown): void {
    // A checked read's connection leaves the pipeline mode the router switched on (see `readReplayBefore`).
    if ((lease.client as { pipeline?: boolean }).pipeline === true) settlePipeline(lease.client)
    const destroy = error !== undefined && !isStatementError(error)
    lease.client.release(destroy ? (error instanceof Error ? error : true) : undefined)
  }

  /**
   * Runs a caller's function that runs its own statements (a transaction's body) on a leased connection. A
   * failure of the primary under it is reported as `PGROUTE_PRIMARY_UNAVAILABLE` (the error as `cause`).
   *
   * The body's statements are not the router's: its connection counts as running for the whole body, so that it
   * is cancelled (and the body fails with `PGROUTE_NODE_DOWN`, or the primary's error) when the node is marked
   * down. It has no time limit: a transaction may rightly outlast any one statement's limit.
   */
  async within<T>(lease: Lease, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { node, client } = lease
    const running: RunningStatement = { slot: -1, client, deadline: 0, body: true, lease }
    node.began(running)
    let served = false
    try {
      // The body's own statements pass the lease check too (see guardedClient).
      const value = await use(guardedClient(lease, this.#stale))
      served = true
      return value
    } catch (error) {
      const cancelled = this.#canceller.takeReason(client)
      if (cancelled === undefined) this.#noteFailure(node, error, client)
      // The body failed before its COMMIT was sent: the transaction did not commit.
      throw this.#failure(node, cancelled ?? error, 'aborted')
    } finally {
      node.ended(running, served)
      // A body that swallowed the cancellation's error: forget the reason all the same.
      this.#canceller.takeReason(client)
    }
  }

  /** A transaction body's statement found its lease stale: its connection is closed, the body gets the error. */
  readonly #stale = (lease: Lease): PgRouteError => {
    this.#canceller.discard(lease.client)
    return roleChangedError(lease)
  }

  /**
   * What a statement's caller sees: on the primary, the node's own failure as `PGROUTE_PRIMARY_UNAVAILABLE`, with
   * `outcome` (what became of its write, see `primaryUnavailable`).
   */
  #failure(node: RouterNode, error: unknown, outcome: Outcome): unknown {
    return node.role === 'primary' ? withOutcome(primaryUnavailable(node, error, outcome), outcome) : error
  }

  /**
   * A failure with the node's signature (`origin` tells whether the driver raised it, see {@link ErrorOrigin}):
   * the node is suspect, and the monitor probes it. The probe runs outside the caller's trace.
   */
  #noteFailure(node: RouterNode, error: unknown, origin: ErrorOrigin | undefined): void {
    if (!isConnectionError(error, origin)) return
    const monitor = this.#monitor
    const tracer = this.#tracer
    if (tracer.traceBackground) tracer.traceBackground(() => monitor.reportConnectionFailure(node, error))
    else monitor.reportConnectionFailure(node, error)
  }
}
