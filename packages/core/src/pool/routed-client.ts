import { EventEmitter } from 'node:events'
import type pg from 'pg'
import { type Classification, leavesReplica } from '../classify/index.js'
import { PIN_PRIMARY, PIN_REPLICA, type Pin, type RouteOptions } from '../core/route-options.js'
import type { RouterCore } from '../core/router-core.js'
import {
  failSubmittable,
  isSubmittable,
  type QueryInput,
  type Submittable,
  textOf,
} from '../core/submittable.js'
import { PgRouteError } from '../errors.js'
import { type Lease, leaseIsCurrent } from '../replicas/lease.js'
import { settle } from './pg-pool-callbacks.js'

type Callback = (error: Error | null, result?: pg.QueryResult) => void

/** Events of the pinned connection a client passes on to its own listeners. */
const RELAYED_EVENTS = ['error', 'notification', 'notice', 'end', 'drain'] as const
type RelayedEvent = (typeof RELAYED_EVENTS)[number]

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
export class RoutedClient extends EventEmitter {
  readonly #core: RouterCore
  /** The connection this client holds, as its statements leave it. */
  readonly #pin: Pin
  /** The route options of every statement of this client: on its pin. */
  readonly #onPin: RouteOptions
  /** The lease whose connection's events this client passes on. */
  #attached: Lease | undefined = undefined
  /** Forwarders of {@link RELAYED_EVENTS}, made at the first one needed; which are on {@link #attached}. */
  #relays: Map<RelayedEvent, (...args: unknown[]) => void> | undefined = undefined
  #released = false
  #inTransaction = false
  /** Statements run one at a time, in order, so each routing decision sees the outcome of the previous one. */
  #tail: Promise<unknown> = Promise.resolve()
  /** Statements queued or running; the next one runs at once when there are none. */
  #pending = 0

  /** @internal Clients come from `router.connect()` and `router.pool.connect()`. */
  constructor(core: RouterCore) {
    super()
    this.#core = core
    this.#pin = core.connect()
    this.#onPin = { pin: this.#pin }
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
    return `"${text.replace(/"/g, '""')}"`
  }

  /** `pg.Client#escapeLiteral`. */
  escapeLiteral(text: string): string {
    let hasBackslash = false
    let escaped = "'"
    for (const char of text) {
      if (char === "'") escaped += "''"
      else if (char === '\\') {
        escaped += '\\\\'
        hasBackslash = true
      } else escaped += char
    }
    escaped += "'"
    return hasBackslash ? ` E${escaped}` : escaped
  }

  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener)
    this.#listened(event)
    return this
  }

  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener)
  }

  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature.
  override prependListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.prependListener(event, listener)
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

  /** One statement (or a submittable) on the node its text calls for: the pinned one, unless it must move. */
  async #run(query: QueryInput, values: unknown[] | undefined): Promise<pg.QueryResult> {
    const pin = this.#pin
    let classification: Classification | undefined
    try {
      if (this.#released) throw new Error('Client was released to the pool and cannot run queries')
      classification = this.#core.classify(textOf(query))
      if (pin.lease !== undefined && this.#movesToPrimary(classification)) this.#unpin()
      if (pin.lease === undefined && this.#hearsNotices) {
        // Notices of the statement that pins arrive while it runs: its connection is listened to first.
        await this.#core.route(undefined, undefined, this.#onPin, classification)
        this.#adopt()
      }
      // Outside a transaction a replica-pinned client holds no state worth keeping: its statement may move it.
      pin.movable = !this.#inTransaction && pin.lease?.role === 'replica'
      const result = await this.#core.route(query, values, this.#onPin, classification)
      this.#track(classification)
      return result
    } finally {
      this.#pending--
      this.#adopt()
      this.#syncTransactionState()
    }
  }

  async #pinTo(target: 'primary' | 'replica'): Promise<void> {
    try {
      if (this.#released) throw new Error('Client was released to the pool and cannot run queries')
      // The role the connection was checked out as: a node's role may change under it, the client's never does.
      const lease = this.#pin.lease
      if (lease?.role === target) return
      if (lease) {
        if (this.#inTransaction || lease.role === 'primary') {
          throw new PgRouteError(
            'PGROUTE_PINNED',
            `This client is pinned to ${lease.role} ${lease.node.name}${this.#inTransaction ? ' inside a transaction' : ''}; it cannot move to the ${target}`,
          )
        }
        this.#unpin()
      }
      await this.#core.route(
        undefined,
        undefined,
        this.#onPin,
        target === 'primary' ? PIN_PRIMARY : PIN_REPLICA,
      )
    } finally {
      this.#pending--
      this.#adopt()
    }
  }

  /** Whether this client listens to the notices or notifications of its connection. */
  get #hearsNotices(): boolean {
    const relays = this.#relays
    return relays !== undefined && (relays.has('notice') || relays.has('notification'))
  }

  /**
   * A replica-pinned client outside a transaction leaves its replica for a write or a read-write `BEGIN`. The role
   * is the one its connection was checked out as: a primary-pinned client whose node became a replica (a failover)
   * never moves (its statement fails with `PGROUTE_ROLE_CHANGED`: it would lose its session state silently).
   */
  #movesToPrimary(classification: Classification): boolean {
    return this.#pin.lease?.role === 'replica' && !this.#inTransaction && leavesReplica(classification)
  }

  /** A statement succeeded: transaction control in its text (pg's status, read after, beats it when it has one). */
  #track(classification: Classification): void {
    const { transaction } = classification
    if (transaction === 'begin' || transaction === 'begin-read-only') this.#inTransaction = true
    else if (transaction === 'end') this.#inTransaction = false
  }

  /** pg (8.15+) reports the server's transaction status; it beats guessing from statement text. */
  #syncTransactionState(): void {
    const status = (
      this.#pin.lease?.client as { getTransactionStatus?: () => string | null } | undefined
    )?.getTransactionStatus?.()
    if (status === 'I') this.#inTransaction = false
    else if (status === 'T' || status === 'E') this.#inTransaction = true
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
    const relays = this.#relays
    if (relays !== undefined) for (const [event, relay] of relays) lease.client.on(event, relay)
  }

  /** Stops passing on the events of the connection this client held. */
  #detach(): void {
    const lease = this.#attached
    if (lease === undefined) return
    this.#attached = undefined
    const relays = this.#relays
    if (relays !== undefined) for (const [event, relay] of relays) lease.client.removeListener(event, relay)
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
    if (!(RELAYED_EVENTS as readonly (string | symbol)[]).includes(event)) return
    this.#relays ??= new Map()
    if (this.#relays.has(event as RelayedEvent)) return
    // Passed on only while this client has listeners: a connection error nobody hears stays the router's.
    const relay = (...args: unknown[]) => {
      if (this.listenerCount(event) > 0) this.emit(event, ...args)
    }
    this.#relays.set(event as RelayedEvent, relay)
    this.#attached?.client.on(event as 'error', relay)
  }
}
