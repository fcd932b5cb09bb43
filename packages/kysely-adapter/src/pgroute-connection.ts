import {
  type Classification,
  ConfigError,
  PgRouteError,
  type RoutedClient,
  type Router,
  type RouteTarget,
} from '@pgroute/core'
import { leavesReplica, reopenClient } from '@pgroute/core/internal'
import type { CompiledQuery, DatabaseConnection, PostgresCursorConstructor, QueryResult } from 'kysely'
import type pg from 'pg'
import { isMarkedForPrimary } from './primary-plugin.js'
import type { QueryTargets } from './query-targets.js'

/** The caller's stack below the driver, as Kysely's own PostgresConnection adds it (the error stays the same). */
function extendStackTrace(error: unknown, stackError: Error): unknown {
  if (typeof (error as Error | null)?.stack === 'string' && stackError.stack) {
    ;(error as Error).stack += `\n${stackError.stack.split('\n').slice(1).join('\n')}`
  }
  return error
}

/** What {@link PgRouteConnection} does before running a statement. */
interface Route {
  /** The text's classification, when the statement is raw SQL. */
  readonly classification?: Classification
  /** Pin the (not yet pinned) client to this role first. */
  readonly pin?: RouteTarget
}

const NO_PIN: Route = Object.freeze({})
const PIN_PRIMARY: Route = Object.freeze({ pin: 'primary' })
const PIN_REPLICA: Route = Object.freeze({ pin: 'replica' })

function describeStatement(query: CompiledQuery, classification: Classification | undefined): string {
  if (classification === undefined) {
    const why = isMarkedForPrimary(query.queryId) ? 'marked by onPrimary()' : `a ${query.query.kind}`
    return `a statement that needs the primary (${why})`
  }
  if (classification.transaction === 'begin') {
    return classification.reason === 'serializable'
      ? 'a serializable transaction (hot standbys cannot run one)'
      : 'a read-write transaction'
  }
  return `a statement that needs the primary (${classification.reason})`
}

/**
 * One Kysely connection over a lazily-pinned `RoutedClient`. Its first statement chooses the node and the
 * connection keeps it until it is released:
 * - a builder query by its operation-node tree ({@link queryNodeTarget}): `'primary'` pins the primary;
 *   `'replica'` lets the client route it as a read (a replica, honouring read-your-writes and the lag bounds);
 * - raw SQL, and `BEGIN`, by pgroute's classifier: `START TRANSACTION READ ONLY` → a replica, `BEGIN` → the primary;
 * - a query marked by `onPrimary()` → the primary.
 *
 * Kysely gives every single query its own connection and starts every transaction with `BEGIN`, so only a
 * `db.connection()` callback runs further statements on a connection outside a transaction. Such a connection
 * stays on its node: on a replica, a write or a read-write transaction is refused with `PGROUTE_PINNED` rather
 * than silently moved to the primary (which would drop the session state the callback relies on).
 *
 * The driver reuses a released connection for a later checkout (see `PgRouteDriver.acquireConnection`): Kysely
 * remembers every connection object it was handed, and one new object per query would cost it an entry per query.
 * The connection's client is released with it and reopened for the next checkout (a new client when a statement
 * of the last one is still running); every checkout has a number, so that a statement its caller did not wait for
 * leaves alone the checkout that reuses the connection.
 */
export class PgRouteConnection implements DatabaseConnection {
  /** The client of the current checkout; `undefined` while the connection is released. */
  #client: RoutedClient | undefined = undefined
  /** The client of the last checkout, reopened for the next one when it can be (see {@link open}). */
  #released: RoutedClient | undefined = undefined
  /** Number of the current checkout. */
  #checkout = 0
  readonly #router: Router
  readonly #cursor: PostgresCursorConstructor | null
  readonly #targets: QueryTargets
  #inTransaction = false
  #broken = false

  constructor(router: Router, cursor: PostgresCursorConstructor | null, targets: QueryTargets) {
    this.#router = router
    this.#cursor = cursor
    this.#targets = targets
  }

  /** Starts a checkout on `client`, a new client of the router (no node chosen yet). */
  open(client: RoutedClient): this {
    this.#client = client
    this.#released = undefined
    this.#checkout++
    this.#inTransaction = false
    this.#broken = false
    return this
  }

  /**
   * Starts a checkout on the client of the last one, reopened (no node chosen yet); `false` when it cannot be (a
   * statement of the last checkout is still running): the checkout then needs a new client ({@link open}).
   */
  reopen(): boolean {
    const last = this.#released
    if (last === undefined || !reopenClient(last)) return false
    this.open(last)
    return true
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      const client = this.#current()
      const checkout = this.#checkout
      const { classification, pin } = this.#route(client, compiledQuery, false)
      if (pin !== undefined) await client.pin(pin)
      let result: pg.QueryResult
      try {
        result = await client.query(compiledQuery.sql, [...compiledQuery.parameters])
      } finally {
        // (A statement its caller did not wait for leaves alone the checkout that reuses this connection.)
        if (classification?.transaction === 'end' && this.#isCheckout(checkout)) this.#inTransaction = false
      }
      if (
        (classification?.transaction === 'begin' || classification?.transaction === 'begin-read-only') &&
        this.#isCheckout(checkout)
      ) {
        this.#inTransaction = true
      }
      const { command, rowCount, rows } = result
      return {
        numAffectedRows:
          command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
            ? BigInt(rowCount ?? 0)
            : undefined,
        rows: (rows ?? []) as R[],
      }
    } catch (error) {
      throw extendStackTrace(error, new Error())
    }
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    const Cursor = this.#cursor
    if (!Cursor) {
      throw new ConfigError(
        'cursor',
        'streaming needs pg-cursor: install it (npm install pg-cursor) or pass its Cursor class as `cursor`',
      )
    }
    if (!Number.isInteger(chunkSize) || (chunkSize as number) <= 0) {
      throw new ConfigError('chunkSize', `expected a positive integer, got ${String(chunkSize)}`)
    }
    const client = this.#current()
    const { pin } = this.#route(client, compiledQuery, true)
    if (pin !== undefined) await client.pin(pin)
    const cursor = new Cursor<R>(compiledQuery.sql, compiledQuery.parameters.slice())
    client.query(cursor as unknown as pg.Submittable)
    try {
      for (;;) {
        const rows = await cursor.read(chunkSize as number)
        if (rows.length === 0) break
        yield { rows }
      }
    } finally {
      await cursor.close()
    }
  }

  /** The connection cannot be trusted any more (a failed ROLLBACK): it is destroyed, not pooled, on release. */
  markBroken(): void {
    this.#broken = true
  }

  /** Returns the pinned connection to its node's pool; one left inside a transaction is destroyed instead. */
  release(): void {
    const client = this.#client
    if (client === undefined)
      throw new Error('Release called on client which has already been released to the pool.')
    this.#client = undefined
    this.#released = client
    client.release(this.#broken || this.#inTransaction)
  }

  /** Whether checkout number `checkout` is still going on (not released, not followed by another). */
  #isCheckout(checkout: number): boolean {
    return this.#checkout === checkout && this.#client !== undefined
  }

  /** The client of the current checkout; a released connection runs nothing, as a released pg client. */
  #current(): RoutedClient {
    const client = this.#client
    if (client === undefined) throw new Error('Client was released to the pool and cannot run queries')
    return client
  }

  /**
   * Where the statement goes: the node to pin first (first statement only), or a `PGROUTE_PINNED` error when the
   * pinned replica must not run it. Synchronous, and allocation-free for the common case (a builder read).
   * Carries the text's classification when it was needed (raw SQL), for tracking transactions.
   */
  #route(client: RoutedClient, query: CompiledQuery, streaming: boolean): Route {
    const target = isMarkedForPrimary(query.queryId) ? 'primary' : this.#targets.of(query)
    const classification = target === undefined ? this.#router.classify(query.sql) : undefined
    const role = client.role
    if (role === undefined) {
      if (target === 'primary') {
        // When the text says primary too (all DML, locking reads), a query lands there by itself: pinning first
        // would only cost another round through the client's queue (the classification is cached for the query).
        return !streaming && this.#router.classify(query.sql).target === 'primary' ? NO_PIN : PIN_PRIMARY
      }
      if (streaming) {
        // A cursor is handed to the client unsubmitted; pinning first keeps routing failures on an awaited call.
        const text = classification ?? this.#router.classify(query.sql)
        return text.target === 'replica' ? PIN_REPLICA : PIN_PRIMARY
      }
    } else if (role === 'replica' && !this.#inTransaction) {
      const text = classification ?? this.#router.classify(query.sql)
      if (target === 'primary' || leavesReplica(text)) {
        throw new PgRouteError(
          'PGROUTE_PINNED',
          `This connection is pinned to replica ${client.node} by its first statement (db.connection() keeps ` +
            `one node for its callback), so it cannot run ${describeStatement(query, target === 'primary' ? undefined : text)}. ` +
            'Start the callback with the write or the read-write transaction, or use primary(db).connection().',
        )
      }
    }
    return classification === undefined ? NO_PIN : { classification }
  }
}
