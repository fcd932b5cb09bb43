import { EventEmitter } from 'node:events'
import type pg from 'pg'
import type { Classification } from '../classify/index.js'
import { PIN_PRIMARY, PIN_REPLICA, type Pin, type RouteOptions } from '../core/route-options.js'
import type { RouterCore } from '../core/router-core.js'
import {
  failSubmittable,
  isSubmittable,
  type QueryInput,
  type Submittable,
  textOf,
} from '../core/submittable.js'
import { traceToCaller } from '../pg-errors.js'
import { type Lease, leaseIsCurrent } from '../replicas/lease.js'
import { ClientEventRelay, isRelayedEvent } from './client-event-relay.js'
import {
  inTransactionAfter,
  mayMove,
  movesToPrimary,
  refusedMove,
  serverInTransaction,
} from './client-pin-rules.js'
import { type NodeCallback, settle } from './pg-pool-callbacks.js'
import { escapeIdentifier, escapeLiteral } from './pg-text-escapes.js'

type Callback = NodeCallback<pg.QueryResult>

/** The method behind `reopenClient` (`@pgroute/core/internal`): not part of the client's public surface. */
export const REOPEN: unique symbol = Symbol('pgroute.reopenClient')

/**
 * Starts a new checkout on a released client, as `router.connect()` would hand out a new one, when nothing of its
 * last checkout is still running (else `false`: the client stays released). Throws `PGROUTE_CLOSED` when the
 * router has ended.
 */
export function reopenClient(client: RoutedClient): boolean {
  return client[REOPEN]()
}

/** The EventEmitter methods of {@link RoutedClient}, which inherits them by its prototype (see the end of the file). */
export interface RoutedClient extends EventEmitter {}

/**
 * A `pg.PoolClient` look-alike that picks its node at its first statement and then stays pinned to it until
 * `release()`:
 * - `BEGIN READ ONLY` / `START TRANSACTION READ ONLY`, or a plain read → a replica (honouring read-your-writes);
 * - `BEGIN`, a write, or session state (`SET`, `LISTEN`, `PREPARE`, temp tables, …) → the primary.
 *
 * A client pinned to a replica moves to the primary when, outside a transaction, it is given a write or a
 * read-write `BEGIN`; its statements there may move too (the replica refuses one as a write, fails, or is no
 * longer a replica): the statement decides, as every statement does (`StatementRequest`). A client on the primary
 * never moves. This is the client ORMs' transactions run on, via `router.pool.connect()`.
 *
 * Events: those of the pinned connection, as `pg.Client` emits them: `notification` (after `LISTEN`, which pins
 * the primary), `notice`, `end`, `drain`, and `error` (passed on only when this client has `error` listeners).
 * Listeners added before the first statement hear the connection pinned later.
 *
 * @example
 * ```ts
 * const client = await router.pool.connect()
 * try {
 *   await client.query('BEGIN READ ONLY')          // pins a replica
 *   const { rows } = await client.query('SELECT * FROM posts')
 *   await client.query('COMMIT')
 * } finally {
 *   client.release()
 * }
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: an EventEmitter by its prototype (see the end of the file).
export class RoutedClient {
  readonly #core: RouterCore
  /** The connection this client holds, as its statements leave it. */
  readonly #pin: Pin
  /** The route options of every statement of this client: on its pin. */
  readonly #onPin: RouteOptions
  /** The lease whose connection's events this client passes on. */
  #attached: Lease | undefined = undefined
  /** Passes the connection's events on, made at the first listener of one; on {@link #attached}'s connection. */
  #relays: ClientEventRelay | undefined = undefined
  #released = false
  #inTransaction = false
  /** Statements run one at a time, in order, so each routing decision sees the outcome of the previous one. */
  #tail: Promise<unknown> = Promise.resolve()
  /** Statements queued or running; the next one runs at once when there are none. */
  #pending = 0
  /** The classification of the statement running (one at a time), for {@link #succeeded}. */
  #running: Classification | undefined = undefined
  /** Reactions to the statement's request: made once per client (see {@link #run}). */
  readonly #succeeded: (result: pg.QueryResult) => pg.QueryResult
  readonly #failed: (error: unknown) => never

  /** @internal Clients come from `router.connect()` and `router.pool.connect()`. */
  constructor(core: RouterCore) {
    this.#core = core
    this.#pin = core.connect()
    this.#onPin = { pin: this.#pin }
    // Assigned here rather than as class fields: toolchains that keep function names (esbuild's keepNames, which
    // tsx uses) would name a field's function anew for every client.
    this.#succeeded = (result) => {
      this.#inTransaction = inTransactionAfter(this.#running!, this.#inTransaction)
      this.#ended()
      return result
    }
    this.#failed = (error) => {
      this.#ended()
      // Settled in pg's callbacks: the error gets a stack trace that leads back to the caller, as pg does.
      traceToCaller(error)
      throw error
    }
  }

  /** Name of the node this client is pinned to, or `undefined` before its first statement. */
  get node(): string | undefined {
    return this.#pin.lease?.node.name
  }

  /** Role of the pinned node, or `undefined` before its first statement. */
  get role(): 'primary' | 'replica' | undefined {
    return this.#pin.lease?.node.role
  }

  /**
   * Pins the client now instead of at its first statement: for callers that know the target from elsewhere
   * (e.g. an ORM's query tree). Does nothing if already pinned to that role.
   */
  pin(target: 'primary' | 'replica'): Promise<void> {
    return this.#enqueue(this.#pinTo, target, undefined)
  }

  /** Runs a statement, like `pg.Client#query` (promise, callback or submittable forms). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    query: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>
  query(query: string | pg.QueryConfig, values: unknown[] | undefined, callback: Callback): void
  query(query: string | pg.QueryConfig, callback: Callback): void
  query<T extends Submittable>(submittable: T): T
  query(query: QueryInput, valuesOrCallback?: unknown[] | Callback, callback?: Callback): unknown {
    if (isSubmittable(query)) {
      // pg hands a submittable back at once; it is submitted on the connection its text calls for.
      this.#enqueue(this.#run, query, undefined).catch((error: unknown) => failSubmittable(query, error))
      return query
    }
    const values = typeof valuesOrCallback === 'function' ? undefined : valuesOrCallback
    const done = typeof valuesOrCallback === 'function' ? valuesOrCallback : callback
    return settle(this.#enqueue(this.#run, query, values), done)
  }

  /**
   * @internal A new checkout on this released client, as a new client would start it: for the Kysely driver, which
   * keeps its connection objects (see `reopenClient` in `@pgroute/core/internal`). Refused (`false`) while a
   * statement of the last checkout is still queued or running, or someone listens to the client: it then stays
   * released, and the caller takes a new client.
   */
  [REOPEN](): boolean {
    if (!this.#released || this.#pending !== 0 || this.#relays !== undefined || this.#attached !== undefined)
      return false
    this.#core.connect(this.#pin)
    this.#released = false
    this.#inTransaction = false
    this.#running = undefined
    return true
  }

  /**
   * Returns the pinned connection to its pool (destroying it when `error` is given, as pg does). A connection whose
   * node was fenced or changed role since checkout is destroyed, never pooled: a transaction the caller left open
   * on it is rolled back by the server, not kept on a node that is no longer what it was.
   */
  release(error?: Error | boolean): void {
    if (this.#released)
      throw new Error('Release called on client which has already been released to the pool.')
    this.#released = true
    const lease = this.#pin.lease
    this.#pin.lease = undefined
    this.#detach()
    if (lease === undefined) return
    lease.client.release(error || (leaseIsCurrent(lease) ? error : true))
  }

  /** `pg.Client#escapeIdentifier`. */
  escapeIdentifier(text: string): string {
    return escapeIdentifier(text)
  }

  /** `pg.Client#escapeLiteral`. */
  escapeLiteral(text: string): string {
    return escapeLiteral(text)
  }

  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  on(event: string | symbol, listener: (...args: any[]) => void): this {
    EventEmitter.prototype.on.call(this, event, listener)
    this.#listened(event)
    return this
  }

  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener)
  }

  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  prependListener(event: string | symbol, listener: (...args: any[]) => void): this {
    EventEmitter.prototype.prependListener.call(this, event, listener)
    this.#listened(event)
    return this
  }

  /**
   * Runs `task(a, b)` once everything queued before it has settled, at once when nothing is (the usual case). The
   * promise handed back is the task's own, with no other reaction on it, so that an error's async stack trace
   * still leads to the caller.
   */
  #enqueue<A, B, T>(task: (a: A, b: B) => Promise<T>, a: A, b: B): Promise<T> {
    this.#pending++
    const run =
      this.#pending === 1
        ? task.call(this, a, b)
        : this.#tail.then(
            () => task.call(this, a, b),
            () => task.call(this, a, b),
          )
    this.#tail = run
    return run
  }

  /**
   * One statement (or a submittable) on the node its text calls for: the pinned one, unless it must move. One
   * promise on top of the request's own, as pg's promise form has (its `.catch`): the client's bookkeeping and the
   * caller's stack on an error are its reactions ({@link #succeeded}, {@link #failed}).
   */
  #run(query: QueryInput, values: unknown[] | undefined): Promise<pg.QueryResult> {
    const pin = this.#pin
    let classification: Classification
    try {
      if (this.#released) throw new Error('Client was released to the pool and cannot run queries')
      classification = this.#core.classify(textOf(query))
      if (movesToPrimary(pin.lease, this.#inTransaction, classification)) this.#unpin()
      // Notices of the statement that pins arrive while it runs: its connection is listened to first.
      if (pin.lease === undefined && this.#relays?.hearsNotices)
        return this.#runHeard(query, values, classification)
      pin.movable = mayMove(pin.lease, this.#inTransaction)
      this.#running = classification
      return this.#core.start(query, values, this.#onPin, classification).then(this.#succeeded, this.#failed)
    } catch (error) {
      this.#ended()
      return Promise.reject(error)
    }
  }

  /** {@link #run} for a client that hears its connection's notices: pinned first, then the statement. */
  async #runHeard(
    query: QueryInput,
    values: unknown[] | undefined,
    classification: Classification,
  ): Promise<pg.QueryResult> {
    try {
      await this.#core.route(undefined, undefined, this.#onPin, classification)
      this.#adopt()
      this.#pin.movable = mayMove(this.#pin.lease, this.#inTransaction)
      const result = await this.#core.route(query, values, this.#onPin, classification)
      this.#inTransaction = inTransactionAfter(classification, this.#inTransaction)
      return result
    } finally {
      this.#ended()
    }
  }

  /** The statement in flight is over: the next may run; the client follows its pin and pg's transaction status. */
  #ended(): void {
    this.#pending--
    this.#adopt()
    // pg's report of the server's transaction status beats the guess from statement text.
    this.#inTransaction = serverInTransaction(this.#pin.lease?.client) ?? this.#inTransaction
  }

  async #pinTo(target: 'primary' | 'replica'): Promise<void> {
    try {
      if (this.#released) throw new Error('Client was released to the pool and cannot run queries')
      const lease = this.#pin.lease
      // The role the connection was checked out as: a node's role may change under it, the client's never does.
      if (lease?.role === target) return
      if (lease) {
        const refused = refusedMove(lease, this.#inTransaction, target)
        if (refused) throw refused
        this.#unpin()
      }
      const pinning = target === 'primary' ? PIN_PRIMARY : PIN_REPLICA
      await this.#core.route(undefined, undefined, this.#onPin, pinning)
    } finally {
      this.#pending--
      this.#adopt()
    }
  }

  /**
   * Follows the pin after a statement: passes on the events of the connection it holds now. If the client was
   * released meanwhile (a caller that did not wait for its statement), the connection goes back to its pool.
   */
  #adopt(): void {
    const lease = this.#pin.lease
    if (lease === this.#attached) return
    this.#detach()
    if (lease === undefined) return
    if (this.#released) {
      this.#pin.lease = undefined
      this.#core.release(lease)
      return
    }
    this.#attached = lease
    this.#relays?.attach(lease.client)
  }

  /** Stops passing on the events of the connection this client held. */
  #detach(): void {
    const lease = this.#attached
    if (lease === undefined) return
    this.#attached = undefined
    this.#relays?.detach(lease.client)
  }

  /** Returns the pinned connection to its pool (destroyed if `error` says it may be broken). */
  #unpin(error?: unknown): void {
    const lease = this.#pin.lease
    if (!lease) return
    this.#pin.lease = undefined
    this.#detach()
    this.#core.release(lease, error)
  }

  /** Someone listens to `event` on this client: if it is the connection's, it is passed on from now on. */
  #listened(event: string | symbol): void {
    if (!isRelayedEvent(event)) return
    this.#relays ??= new ClientEventRelay(this)
    this.#relays.listen(event, this.#attached?.client)
  }
}

// An EventEmitter whose constructor is not run: EventEmitter's methods make its listener table at the first
// listener (as for any object inheriting from it without calling it), where running it would make one for every
// client, and most clients (an ORM's transaction, a Kysely query) never have a listener. `instanceof EventEmitter`
// holds, and every method of EventEmitter is there.
Object.setPrototypeOf(RoutedClient.prototype, EventEmitter.prototype)
Object.setPrototypeOf(RoutedClient, EventEmitter)
