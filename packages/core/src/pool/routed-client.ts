import { EventEmitter } from 'node:events'
import type pg from 'pg'
import { type Classification, leavesReplica } from '../classify/index.js'
import { READ_ONLY_REJECTION, type Routing } from '../core/route-types.js'
import type { Lease, RouterCore, Statement } from '../core/router-core.js'
import { PgRouteError } from '../errors.js'
import { isReadOnlyRejection, isRetryableRead, traceToCaller } from '../pg-errors.js'
import { settle } from './pg-pool-callbacks.js'
import { isSubmittable, type QueryInput, type Submittable, textOf } from './submittable.js'

type Callback = (error: Error | null, result?: pg.QueryResult) => void

const KEEP = Object.freeze({ keep: true })

/**
 * Events of the pinned connection a client passes on to its own listeners (`error` has its own forwarder: it is
 * emitted only when someone listens, so an unhandled connection error does not crash the process twice).
 */
const RELAYED_EVENTS = ['notification', 'notice', 'end', 'drain'] as const

/**
 * A `pg.PoolClient` look-alike that picks its node at its first statement and then stays pinned to it until
 * `release()`:
 * - `BEGIN READ ONLY` / `START TRANSACTION READ ONLY`, or a plain read → a replica (honouring read-your-writes);
 * - `BEGIN`, a write, or session state (`SET`, `LISTEN`, `PREPARE`, temp tables, …) → the primary.
 *
 * A client pinned to a replica moves to the primary when, outside a transaction, it is given a write or a
 * read-write `BEGIN` (or the replica refuses a statement as a write). A client on the primary never moves. This is the client ORMs'
 * transactions run on, via `router.pool.connect()`.
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
  #lease: Lease | undefined
  #released = false
  #inTransaction = false
  /** Statements run one at a time, in order, so each routing decision sees the outcome of the previous one. */
  #tail: Promise<unknown> = Promise.resolve()
  /** Passes the pinned connection's errors on to this client's own `error` listeners, if it has any. */
  readonly #forward = this.#forwarder()
  /** Listeners passing {@link RELAYED_EVENTS} on, made at the first pin. */
  #relays: Array<[event: (typeof RELAYED_EVENTS)[number], listener: (...args: unknown[]) => void]> | undefined
  /** Statements queued or running; the next one runs at once when there are none. */
  #pending = 0

  /** @internal Clients come from `router.connect()` and `router.pool.connect()`. */
  constructor(core: RouterCore) {
    super()
    this.#core = core
  }

  /** Name of the node this client is pinned to, or `undefined` before its first statement. */
  get node(): string | undefined {
    return this.#lease?.node.name
  }

  /** Role of the pinned node, or `undefined` before its first statement. */
  get role(): 'primary' | 'replica' | undefined {
    return this.#lease?.node.role
  }

  /**
   * Pins the client now instead of at its first statement: for callers that know the target from elsewhere
   * (e.g. an ORM's query tree). Does nothing if already pinned to that role.
   */
  pin(target: 'primary' | 'replica'): Promise<void> {
    return this.#enqueue(this.#pin, target, undefined)
  }

  async #pin(target: 'primary' | 'replica'): Promise<void> {
    this.#assertUsable()
    if (this.#lease?.node.role === target) return
    if (this.#lease) {
      if (this.#inTransaction || this.#lease.node.role === 'primary') {
        throw new PgRouteError(
          'PGROUTE_PINNED',
          `This client is pinned to ${this.#lease.node.role} ${this.#lease.node.name}${this.#inTransaction ? ' inside a transaction' : ''}; it cannot move to the ${target}`,
        )
      }
      this.#unpin()
    }
    this.#adopt(await this.#core.lease(target, 'pinned'))
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
    const values = typeof valuesOrCallback === 'function' ? undefined : valuesOrCallback
    const done = typeof valuesOrCallback === 'function' ? valuesOrCallback : callback
    if (isSubmittable(query)) {
      const lease = this.#lease
      if (lease && !this.#busy && !this.#shouldMoveToPrimary(this.#core.classify(textOf(query)))) {
        return lease.client.query(query as never)
      }
      // pg hands a submittable back at once; it buffers reads until it is submitted on the pinned connection.
      void this.#enqueue(this.#submit, query, undefined).catch((error) =>
        (query as unknown as EventEmitter).emit?.('error', error),
      )
      return query
    }
    return settle(this.#enqueue(this.#run, query, values), done)
  }

  /** Returns the pinned connection to its pool (destroying it when `error` is given, as pg does). */
  release(error?: Error | boolean): void {
    if (this.#released)
      throw new Error('Release called on client which has already been released to the pool.')
    this.#released = true
    const lease = this.#lease
    this.#lease = undefined
    if (!lease) return
    this.#detach(lease)
    lease.client.release(error)
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

  get #busy(): boolean {
    return this.#pending > 0
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
        ? this.#settle(task, a, b)
        : this.#tail.then(
            () => this.#settle(task, a, b),
            () => this.#settle(task, a, b),
          )
    this.#tail = run
    return run
  }

  async #settle<A, B, T>(task: (a: A, b: B) => Promise<T>, a: A, b: B): Promise<T> {
    try {
      return await task.call(this, a, b)
    } finally {
      this.#pending--
    }
  }

  #assertUsable(): void {
    this.#core.assertOpen()
    if (this.#released) throw new Error('Client was released to the pool and cannot run queries')
  }

  /** Submits a cursor or stream on the node its text calls for. */
  async #submit(query: Submittable): Promise<void> {
    const target = await this.#route(this.#core.classify(textOf(query)))
    target.client.query(query as never)
  }

  async #run(query: string | pg.QueryConfig, values: unknown[] | undefined): Promise<pg.QueryResult> {
    this.#assertUsable()
    const text = textOf(query)
    const classification = this.#core.classify(text)
    const statement: Statement = { text, query, values }
    let result: pg.QueryResult
    try {
      result = await this.#execute(statement, classification)
    } catch (error) {
      traceToCaller(error)
      throw error
    } finally {
      this.#syncTransactionState()
    }
    if (classification.transaction === 'begin' || classification.transaction === 'begin-read-only') {
      this.#inTransaction = true
    } else if (classification.transaction === 'end') {
      this.#inTransaction = false
    }
    this.#syncTransactionState()
    return result
  }

  async #execute(statement: Statement, classification: Classification): Promise<pg.QueryResult> {
    if (!this.#lease || this.#shouldMoveToPrimary(classification)) {
      // Notices of the statement that pins arrive while it runs: listeners must be on the connection first.
      if (this.listenerCount('notice') + this.listenerCount('notification') === 0)
        return this.#first(statement, classification)
      await this.#route(classification)
    }
    const lease = this.#lease!
    const idleBefore = !this.#inTransaction
    try {
      return (await this.#core.route(classification, statement, { lease })).value
    } catch (error) {
      // Outside a transaction a replica-pinned client holds no state worth keeping, and the replica changed
      // nothing: the statement can run elsewhere.
      if (lease.node.role === 'replica' && idleBefore) {
        if (isReadOnlyRejection(error)) {
          // Run it where it can run, and stay there.
          this.#core.rejections.record(lease.node, statement.text, error)
          this.#unpin()
          return this.#first(statement, READ_ONLY_REJECTION)
        }
        if (isRetryableRead(error)) {
          // The replica died or cancelled the read: pick a node afresh (with the usual read retries).
          this.#unpin(error)
          return this.#first(statement, classification)
        }
      }
      throw error
    }
  }

  /** Pins by the first statement (or re-pins to the primary) and runs it. */
  async #first(statement: Statement, classification: Routing): Promise<pg.QueryResult> {
    if (this.#lease) this.#unpin()
    const outcome = await this.#core.route(classification, statement, KEEP)
    this.#adopt(outcome.lease)
    return outcome.value
  }

  async #route(classification: Classification): Promise<Lease> {
    if (this.#lease && !this.#shouldMoveToPrimary(classification)) return this.#lease
    if (this.#lease) this.#unpin()
    const lease = await this.#core.lease(classification.target, classification.reason)
    this.#adopt(lease)
    this.#assertUsable()
    return lease
  }

  #shouldMoveToPrimary(classification: Classification): boolean {
    return this.#lease?.node.role === 'replica' && !this.#inTransaction && leavesReplica(classification)
  }

  /** pg (8.15+) reports the server's transaction status; it beats guessing from statement text. */
  #syncTransactionState(): void {
    const status = (
      this.#lease?.client as { getTransactionStatus?: () => string | null } | undefined
    )?.getTransactionStatus?.()
    if (status === 'I') this.#inTransaction = false
    else if (status === 'T' || status === 'E') this.#inTransaction = true
  }

  #forwarder(): (error: Error) => void {
    // Returned, not bound to a name: toolchains that keep function names would rename it for every client.
    return (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error)
    }
  }

  /**
   * Pins `lease`. If the client was released while the connection was being acquired (a caller that did not
   * wait for its statement), the connection goes straight back to its pool instead of leaking.
   */
  #adopt(lease: Lease): void {
    if (this.#released) {
      this.#core.release(lease)
      return
    }
    this.#lease = lease
    lease.client.on('error', this.#forward)
    this.#relays ??= RELAYED_EVENTS.map((event) => [event, (...args) => this.emit(event, ...args)])
    for (const [event, listener] of this.#relays) lease.client.on(event, listener)
  }

  /** Stops passing on the events of a connection this client no longer holds. */
  #detach(lease: Lease): void {
    lease.client.removeListener('error', this.#forward)
    for (const [event, listener] of this.#relays ?? []) lease.client.removeListener(event, listener)
  }

  /** Returns the pinned connection to its pool (destroyed if `error` says it may be broken). */
  #unpin(error?: unknown): void {
    const lease = this.#lease
    if (!lease) return
    this.#lease = undefined
    this.#detach(lease)
    this.#core.release(lease, error)
  }
}
