/**
 * Reading `pg` errors to decide what a failure means for routing. pgroute never rewraps these errors: they
 * reach the caller as they are.
 */

interface ErrorLike {
  readonly code?: unknown
  readonly message?: unknown
  readonly severity?: unknown
}

/** Socket-level codes of a node that cannot be reached or dropped the connection. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/**
 * SQLSTATEs of a server ending connections (class 57P, operator intervention): 57P01 admin_shutdown (also
 * `pg_terminate_backend`), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down, or in
 * recovery without hot standby), 57P04 database_dropped, 57P05 idle_session_timeout.
 */
const SERVER_GONE_PREFIX = '57P'

/** SQLSTATEs of a server refusing a new connection for want of a slot: busy, not broken. */
const NO_SLOT_CODES = new Set(['53300', '53400'])

/**
 * Messages pg and pg-pool (8.x) give the errors they raise themselves, without a code, when a connection fails:
 * `Client#_connect` on socket end (`Connection terminated unexpectedly`, or `Connection terminated` when the client
 * was being ended) and on a connect past `connectionTimeoutMillis` (`timeout expired`), pg-pool on such a connect
 * (`Connection terminated due to connection timeout`), and `Client#query` on a client already broken (`Client has
 * encountered a connection error and is not queryable`) or ended (`Client was closed and is not queryable`).
 *
 * The same words can come from anywhere else: an error a type parser (or any callback of the caller's) throws while
 * pg handles a row reaches the statement as it was thrown. So the text counts only for an error known to come from
 * the driver's connection code (see {@link ErrorOrigin}).
 */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'timeout expired',
]

/**
 * Where an error without SQLSTATE came from, so that its text may be believed:
 * - `'connect'`: connecting (`pool.connect()`, `client.connect()`), where only the driver's code runs;
 * - a pg client: the connection a statement (or a transaction body) ran on, or whose `error` event it was. Its
 *   text counts only while that client is broken: pg marks a client whose socket failed or ended (`_queryable`
 *   false, `_ending` or `_ended` true, in pg 8.x) before it fails its statements, and a type parser's error never
 *   leaves one so (pg reads on to ReadyForQuery, and the connection stays usable).
 */
export type ErrorOrigin = 'connect' | object

/** Errors already judged to come from the driver's connection code: later judges, without the origin, agree. */
const driverFailures = new WeakSet<object>()

interface ClientState {
  readonly _queryable?: unknown
  readonly _ending?: unknown
  readonly _ended?: unknown
}

/** Whether `client` is a pg client that can no longer run statements (its socket failed or ended). */
function isBroken(client: unknown): boolean {
  if (typeof client !== 'object' || client === null) return false
  const state = client as ClientState
  return state._queryable === false || state._ending === true || state._ended === true
}

function codeOf(error: unknown): string | undefined {
  const code = (error as ErrorLike | null)?.code
  return typeof code === 'string' ? code : undefined
}

function messageOf(error: unknown): string {
  const message = (error as ErrorLike | null)?.message
  return typeof message === 'string' ? message : ''
}

/** An error the server sent (pg's `DatabaseError`): it carries a severity and a SQLSTATE. */
function fromServer(error: unknown): boolean {
  return typeof (error as ErrorLike | null)?.severity === 'string'
}

/**
 * The node's failure signature: socket errors (refused, reset, timed out, unreachable), the server ending
 * connections (57P0x), connection exceptions (08xxx; 08P01, which answers a malformed statement such as a NUL byte
 * in its text, only with severity FATAL, as PgBouncer sends it when the server behind it fails), and the driver's
 * own errors of a connection that failed or ended, when `origin` (or an earlier judgement of the same error
 * object) shows the driver raised them. An error the server returned about a
 * statement never counts, whatever its message says (it may quote a bind value); neither does an error thrown from
 * a type parser or a callback of the caller's.
 *
 * Such a failure makes the node suspect: the health monitor's probe confirms it before anything is cancelled.
 */
export function isConnectionError(error: unknown, origin?: ErrorOrigin): boolean {
  const code = codeOf(error)
  if (fromServer(error)) {
    // 08P01 (protocol violation) answers a malformed statement, such as a NUL byte in its text: not the node.
    // With severity FATAL the connection is being closed: PgBouncer sends that when the server behind it died
    // ("server conn crashed?") or while it refuses logins to a server that failed (server_login_retry).
    if (code === '08P01') return (error as ErrorLike).severity === 'FATAL'
    return code !== undefined && (code.startsWith(SERVER_GONE_PREFIX) || code.startsWith('08'))
  }
  if (code !== undefined) return SOCKET_CODES.has(code)
  if (typeof error !== 'object' || error === null) return false
  if (driverFailures.has(error)) return true
  const message = messageOf(error)
  if (!CONNECTION_MESSAGES.some((text) => message.includes(text))) return false
  // pg-pool hands the error of an idle connection over with the client attached.
  const raisedByDriver =
    origin === 'connect' || isBroken(origin) || isBroken((error as { client?: unknown }).client)
  if (raisedByDriver) driverFailures.add(error)
  return raisedByDriver
}

/**
 * Records where `error` came from, for judges that see only the error later (a read deciding whether to retry):
 * {@link isConnectionError} then judges it as with `origin`.
 */
export function attributeError(error: unknown, origin: ErrorOrigin): void {
  isConnectionError(error, origin)
}

/**
 * The server ended the connection with 57P01 (admin_shutdown: a fast shutdown, a switchover, `pg_terminate_backend`)
 * as the answer to a statement: the backend handles that signal only where it may stop (never between writing a
 * commit record and answering), so the statement's transaction did not commit and never will. The one exception,
 * a commit waiting for a synchronous standby, is told by a warning notice first (see `NodeConnections`).
 * 57P02 (crash_shutdown) may cut a commit anywhere: it is no such proof.
 */
export function isTerminatedBeforeCommit(error: unknown): boolean {
  return fromServer(error) && codeOf(error) === '57P01'
}

/**
 * PgBouncer's refusals of a statement it had not given a server connection yet, which it sends with SQLSTATE 08P01
 * and severity FATAL before closing the client connection (PgBouncer 1.18, `disconnect_client`): `server login has
 * been failing, try again later (server_login_retry)` (`check_fast_fail`: the pool has no server connection and its
 * last login failed, as when the server behind it is shutting down or gone) and `query_wait_timeout` (the client
 * waited in the queue for a server connection that never came). A client that waits for a server connection is
 * linked to none, and in transaction pooling has no transaction open on any: nothing of the statement ran.
 */
const POOLER_REFUSALS = [
  'server login has been failing, try again later (server_login_retry)',
  'query_wait_timeout',
]

/**
 * PgBouncer refused the statement before any server had it (see {@link POOLER_REFUSALS}): it did not run, and the
 * server behind that PgBouncer cannot be reached now. Only the exact texts with 08P01 and severity FATAL count: the
 * server itself never sends them, and an error about a statement never has that severity and code together.
 */
export function isRefusedByPooler(error: unknown): boolean {
  return (
    fromServer(error) &&
    codeOf(error) === '08P01' &&
    (error as ErrorLike).severity === 'FATAL' &&
    POOLER_REFUSALS.includes(messageOf(error))
  )
}

/**
 * The server has no connection slot left (53300 too_many_connections, 53400 configuration_limit_exceeded), or
 * pg-pool waited `connectionTimeoutMillis` for one of its own: the node is busy, not broken. Nothing was sent, so
 * a read goes elsewhere; the node is not marked down.
 */
export function isBusy(error: unknown): boolean {
  const code = codeOf(error)
  if (code !== undefined) return NO_SLOT_CODES.has(code) && fromServer(error)
  return isPoolTimeout(error)
}

/** pg's own `query_timeout` fired: the connection is still busy with the statement (it is destroyed). */
export function isQueryTimeout(error: unknown): boolean {
  return codeOf(error) === undefined && messageOf(error) === 'Query read timeout'
}

/**
 * A query cancelled on a hot standby because of WAL replay (a recovery conflict): 40001 with "conflict with
 * recovery", 40P01 on a buffer-pin deadlock, 57P04 when the database was dropped. Retrying elsewhere is safe.
 */
export function isStandbyConflict(error: unknown): boolean {
  const code = codeOf(error)
  if (code === '40001' || code === '40P01') return messageOf(error).includes('conflict with recovery')
  return code === '57P04'
}

/**
 * The replica refused the statement as one only a primary can run: SQLSTATE 25006 (read_only_sql_transaction),
 * or an error raised because the server is in recovery ("cannot assign TransactionIds during recovery",
 * "recovery is in progress", "cannot use serializable mode in a hot standby"). Either way it changed nothing.
 */
export function isReadOnlyRejection(error: unknown): boolean {
  const code = codeOf(error)
  if (code === '25006') return true
  // Only the codes these messages come with: another error's message may quote caller input.
  if (code !== '55000' && code !== 'XX000' && code !== '0A000') return false
  const message = messageOf(error)
  return (
    message.includes('during recovery') ||
    message.includes('recovery is in progress') ||
    // 0A000 "cannot use serializable mode in a hot standby"
    message.includes('in a hot standby')
  )
}

/**
 * pg-pool gave up waiting for a connection (`connectionTimeoutMillis`): the pool may simply be saturated, so
 * the node is not marked down, but a read may still be tried elsewhere.
 */
export function isPoolTimeout(error: unknown): boolean {
  return codeOf(error) === undefined && messageOf(error).includes('timeout exceeded when trying to connect')
}

/**
 * An error the server reported for one statement (pg's `DatabaseError`: it has a `severity`) that leaves the
 * connection usable. Anything else (a client-side timeout, a protocol or driver error, a dropped connection) may
 * leave it mid-statement, so the connection is destroyed rather than returned to its pool.
 */
export function isStatementError(error: unknown): boolean {
  if (!fromServer(error) || isConnectionError(error)) return false
  // 08xxx from the server (e.g. 08P01 for a NUL byte in a statement) fails the statement, not the node, but
  // the protocol state of the connection is not worth trusting afterwards.
  return !codeOf(error)?.startsWith('08')
}

/**
 * A read that failed this way may be run again on another node: the node failed or was busy, WAL replay
 * cancelled it, or the router cancelled it (its time limit, its node marked down).
 */
export function isRetryableRead(error: unknown): boolean {
  return (
    isConnectionError(error) ||
    isStandbyConflict(error) ||
    isBusy(error) ||
    isQueryTimeout(error) ||
    isCancelledByRouter(error) ||
    // A read that fell back to the primary, which failed under it: a replica may take it now.
    codeOf(error) === 'PGROUTE_PRIMARY_UNAVAILABLE'
  )
}

/** Marks errors the router raised when it cancelled a statement itself (see {@link cancelledByRouter}). */
const cancelledBrand = Symbol.for('pgroute.cancelled')

/** Brands `error` as raised by the router cancelling a read (a time limit, a node marked down). */
export function cancelledByRouter<E extends object>(error: E): E {
  Object.defineProperty(error, cancelledBrand, { value: true })
  return error
}

/** Whether the router cancelled the statement that failed with `error` (so nothing is known about the node). */
export function isCancelledByRouter(error: unknown): boolean {
  return typeof error === 'object' && error !== null && cancelledBrand in error
}

/**
 * Gives an error raised in pg's callbacks a stack trace leading back to the caller (called from the async frame
 * the caller awaits), as pg's own promise API does. The error is otherwise untouched: same object, class and code.
 */
export function traceToCaller(error: unknown): void {
  if (error instanceof Error) Error.captureStackTrace(error)
}
