/**
 * pgroute's own errors. Database errors are never wrapped: they reach the caller exactly as `pg` produced them
 * (same class, same `code`), so ORMs keep recognising them.
 */

const pgRouteErrorBrand = Symbol.for('pgroute.error')
const configErrorBrand = Symbol.for('pgroute.config-error')

/** Machine-readable codes of {@link PgRouteError}. */
export type PgRouteErrorCode =
  /** Options given to `createRouter` (or another pgroute entry point) are invalid. */
  | 'PGROUTE_INVALID_OPTION'
  /** No node may serve the statement: `fallback: 'error'` with no eligible replica, or the primary is unknown. */
  | 'PGROUTE_NO_ELIGIBLE_NODE'
  /** The router was ended; it takes no more work. */
  | 'PGROUTE_CLOSED'
  /** A causal token (from `router.token()`) could not be parsed. */
  | 'PGROUTE_INVALID_TOKEN'
  /** A client was used in a way its pinned node cannot serve (e.g. a write transaction on a replica-pinned client). */
  | 'PGROUTE_PINNED'
  /** The operation was aborted through its `AbortSignal`. */
  | 'PGROUTE_ABORTED'
  /**
   * A statement ran past `timeouts.readMs` / `timeouts.writeMs`: it was cancelled on the server and its
   * connection discarded. A read gets it only when no other node could run it in time; a write is never re-run.
   */
  | 'PGROUTE_TIMEOUT'
  /**
   * A statement was cancelled because its node was marked down while it ran (reads are re-run elsewhere first;
   * a read gets this only when no other node could take it).
   */
  | 'PGROUTE_NODE_DOWN'
  /**
   * A write could not run: no node takes writes (the primary is known down or fenced and no other node leads
   * yet, or none did within `failover.waitMs`), or the primary failed under it (the write's outcome is then
   * unknown). `cause` is the last connection error. Also from `router.ready()`: the primary cannot take writes
   * (unreachable, refused the login, or in recovery).
   */
  | 'PGROUTE_PRIMARY_UNAVAILABLE'
  /**
   * Writes the primary acknowledged are not on the cluster's current timeline: they were made on a timeline past
   * the point where the current one branched off it (the window of a promotion while the old primary still took
   * writes, or WAL that never reached the promoted standby). The message gives the lost WAL range.
   */
  | 'PGROUTE_WRITES_LOST'
  /**
   * A statement was not sent on a connection held across statements (a pinned client's, a transaction's, a
   * `router.primary` client's, a cursor's): its node was fenced or stopped being what it was (the primary, a
   * replica) since the connection was checked out. Nothing was sent; the connection was closed, so a transaction
   * open on it did not commit (`outcome: 'aborted'`) and the connection's session state is gone. The client stays
   * failed until released; a new one gets the current primary.
   */
  | 'PGROUTE_ROLE_CHANGED'

/**
 * What became of the write or transaction a failed call asked for, when pgroute can tell:
 * - `committed`: it took effect (and is on the cluster's current history);
 * - `aborted`: it did not, and never will: running it again cannot apply it twice;
 * - `unknown`: it may or may not have (the reply was lost and the server that knows could not be asked, or its
 *   answer proves nothing after a failover).
 */
export type Outcome = 'committed' | 'aborted' | 'unknown'

/** Options of {@link PgRouteError}: `Error`'s own, and the {@link Outcome} of the caller's write when known. */
export interface PgRouteErrorOptions {
  readonly cause?: unknown
  readonly outcome?: Outcome
}

/**
 * The single error class pgroute throws for its own failures. Check with {@link isPgRouteError}, which works
 * across duplicate copies of the package.
 */
export class PgRouteError extends Error {
  /** Machine-readable error code. */
  readonly code: PgRouteErrorCode
  /**
   * What became of the caller's write or transaction, when the error is about one and pgroute can tell (see
   * {@link Outcome}); absent otherwise.
   */
  readonly outcome?: Outcome

  constructor(code: PgRouteErrorCode, message: string, options?: PgRouteErrorOptions) {
    super(message, options)
    if (options?.cause !== undefined) hideClient(options.cause)
    this.name = 'PgRouteError'
    this.code = code
    if (options?.outcome !== undefined) this.outcome = options.outcome
    Object.defineProperty(this, pgRouteErrorBrand, { value: true })
  }
}

/**
 * Thrown for invalid options, up front, naming the offending option path (e.g. `lag.maxBytes`).
 *
 * @example
 * ```ts
 * try { createRouter({ primary: url, lag: { maxBytes: -1 } }) }
 * catch (error) { if (isConfigError(error)) console.error(error.option) } // 'lag.maxBytes'
 * ```
 */
export class ConfigError extends PgRouteError {
  /** Path of the invalid option, e.g. `replicas[1].weight`. */
  readonly option: string

  constructor(option: string, message: string, options?: { readonly cause?: unknown }) {
    super('PGROUTE_INVALID_OPTION', `Invalid option \`${option}\`: ${message}`, options)
    this.name = 'ConfigError'
    this.option = option
    Object.defineProperty(this, configErrorBrand, { value: true })
  }
}

/**
 * Takes off `error` the `client` pg-pool attaches to the error of an idle connection (`err.client`: its
 * connection parameters hold the password), so that an error the router keeps or hands on as a `cause` can be
 * printed whole, by any serialiser, without it. pg-pool passes the client to its `error` listeners as their own
 * argument too. Returns `error`.
 */
export function hideClient<T>(error: T): T {
  if (typeof error === 'object' && error !== null && Object.hasOwn(error, 'client'))
    delete (error as { client?: unknown }).client
  return error
}

/**
 * Records `outcome` on a pgroute error that has none yet (the router's own error, before it reaches the caller);
 * anything else is left as it is. Returns `error`.
 */
export function withOutcome<T>(error: T, outcome: Outcome): T {
  if (isPgRouteError(error) && error.outcome === undefined)
    Object.defineProperty(error, 'outcome', { value: outcome, enumerable: true })
  return error
}

/** True for every error pgroute itself throws (including {@link ConfigError}), from any copy of the package. */
export function isPgRouteError(error: unknown): error is PgRouteError {
  return typeof error === 'object' && error !== null && pgRouteErrorBrand in error
}

/** True for {@link ConfigError}, from any copy of the package. */
export function isConfigError(error: unknown): error is ConfigError {
  return typeof error === 'object' && error !== null && configErrorBrand in error
}
