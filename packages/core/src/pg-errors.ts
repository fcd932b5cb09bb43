/**
 * Reading `pg` errors to decide what a failure means for routing. pgroute never rewraps these errors: they
 * reach the caller as they are.
 */

interface ErrorLike {
  readonly code?: unknown
  readonly message?: unknown
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
 * SQLSTATEs of a server going away: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
 * (starting up, shutting down, or in recovery without hot standby), 08xxx connection exceptions.
 */
const SERVER_GONE_CODES = new Set(['57P01', '57P02', '57P03'])

/** Messages `pg` raises without a code when the socket closes under it, or a pool cannot connect in time. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'Client has encountered a connection error',
  'Connection terminated due to connection timeout',
  'the database system is',
]

function codeOf(error: unknown): string | undefined {
  const code = (error as ErrorLike | null)?.code
  return typeof code === 'string' ? code : undefined
}

function messageOf(error: unknown): string {
  const message = (error as ErrorLike | null)?.message
  return typeof message === 'string' ? message : ''
}

/** The node is unreachable or dropped the connection: mark it down and try elsewhere. */
export function isConnectionError(error: unknown): boolean {
  const code = codeOf(error)
  if (
    code !== undefined &&
    (SOCKET_CODES.has(code) || SERVER_GONE_CODES.has(code) || code.startsWith('08'))
  ) {
    return true
  }
  const message = messageOf(error)
  return CONNECTION_MESSAGES.some((text) => message.includes(text))
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
  if (codeOf(error) === '25006') return true
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
  return messageOf(error).includes('timeout exceeded when trying to connect')
}

/**
 * An error the server reported for one statement (pg's `DatabaseError`: it has a `severity`) that leaves the
 * connection usable. Anything else (a client-side timeout, a protocol or driver error, a dropped connection) may
 * leave it mid-statement, so the connection is destroyed rather than returned to its pool.
 */
export function isStatementError(error: unknown): boolean {
  return typeof (error as { severity?: unknown } | null)?.severity === 'string' && !isConnectionError(error)
}

/** A read that failed this way changed nothing and may be retried on another node. */
export function isRetryableRead(error: unknown): boolean {
  return isConnectionError(error) || isStandbyConflict(error) || isPoolTimeout(error)
}

/**
 * Gives an error raised in pg's callbacks a stack trace leading back to the caller (called from the async frame
 * the caller awaits), as pg's own promise API does. The error is otherwise untouched: same object, class and code.
 */
export function traceToCaller(error: unknown): void {
  if (error instanceof Error) Error.captureStackTrace(error)
}
