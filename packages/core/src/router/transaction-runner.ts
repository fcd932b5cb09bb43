import type pg from 'pg'
import type { Classification } from '../classify/index.js'
import type { LostCommit } from '../core/commit-outcome.js'
import type { RouterCore } from '../core/router-core.js'
import { ConfigError, isPgRouteError, PgRouteError } from '../errors.js'
import { taintConnection } from '../health/connection-watch.js'

/** Options of {@link Router.transaction}. */
export interface TransactionOptions {
  /** `BEGIN READ ONLY` on a replica (honouring read-your-writes) instead of the primary. Default false. */
  readonly readOnly?: boolean
  /** Isolation level. Default: the server's (`read committed`). */
  readonly isolationLevel?: 'read committed' | 'repeatable read' | 'serializable'
  /** `DEFERRABLE` (only meaningful with `readOnly` and `serializable`). */
  readonly deferrable?: boolean
}

const ISOLATION_LEVELS = ['read committed', 'repeatable read', 'serializable']

// A transaction's own statements are routed by its options, not by their text.
const BEGIN: Classification = Object.freeze({
  target: 'primary',
  reason: 'transaction-begin',
  transaction: 'begin',
})
const BEGIN_READ_ONLY: Classification = Object.freeze({
  target: 'replica',
  reason: 'transaction-begin-read-only',
  transaction: 'begin-read-only',
})
const END: Classification = Object.freeze({
  target: 'primary',
  reason: 'transaction-end',
  transaction: 'end',
})
const END_READ_ONLY: Classification = Object.freeze({
  target: 'replica',
  reason: 'transaction-end',
  transaction: 'end',
})

/**
 * Runs `fn` in a transaction on one connection of `core` ({@link Router.transaction}): BEGIN with the options'
 * modes, `fn`'s statements on the same connection, then COMMIT (its outcome resolved when its answer is lost), or
 * ROLLBACK when `fn` rejects.
 */
export async function runTransaction<T>(
  core: RouterCore,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  const { readOnly = false, isolationLevel, deferrable = false } = options
  if (typeof readOnly !== 'boolean') throw new ConfigError('readOnly', 'expected a boolean')
  if (typeof deferrable !== 'boolean') throw new ConfigError('deferrable', 'expected a boolean')
  if (isolationLevel !== undefined && !ISOLATION_LEVELS.includes(isolationLevel)) {
    throw new ConfigError(
      'isolationLevel',
      `expected one of ${ISOLATION_LEVELS.map((l) => `'${l}'`).join(', ')}`,
    )
  }
  const begin = [
    'BEGIN',
    isolationLevel && `ISOLATION LEVEL ${isolationLevel.toUpperCase()}`,
    readOnly ? 'READ ONLY' : 'READ WRITE',
    deferrable && 'DEFERRABLE',
  ]
    .filter(Boolean)
    .join(' ')
  // The transaction's connection: BEGIN leaves it in the pin. Only BEGIN is retried elsewhere on a connection
  // failure: `fn` runs once. A read-write BEGIN reads the transaction's id in the same round trip, so that a COMMIT
  // whose answer is lost can be resolved (see CommitOutcomes).
  const pin = core.connect()
  const onPin = { pin }
  const begun = await core.route(
    readOnly ? begin : `${begin}; SELECT txid_current()::text AS xid`,
    undefined,
    onPin,
    readOnly ? BEGIN_READ_ONLY : BEGIN,
  )
  const xid = readOnly ? undefined : xidOf(begun)
  const lease = pin.lease!
  // The body's own statements do not pass through the router: what they set on the connection is not known.
  taintConnection(lease.client)
  const end = readOnly ? END_READ_ONLY : END
  /** Set when not even ROLLBACK works: the connection is then destroyed, not pooled. */
  let broken: unknown
  let committing = false
  try {
    const value = await core.within(lease, fn)
    committing = true
    const { node } = lease
    const lost = { xid, node, timeline: node.timeline, lower: node.lsn }
    try {
      await core.route('COMMIT', undefined, onPin, end)
    } catch (error) {
      throw await commitFailed(core, error, lost)
    }
    return value
  } catch (error) {
    // A pin revoked (its node fenced or no longer the primary) closed its connection: nothing to roll back; nor
    // after a COMMIT that failed (the server ended the transaction, or the connection is gone).
    if (pin.lease !== undefined && !committing)
      await core.route('ROLLBACK', undefined, onPin, end).catch((rollbackError: unknown) => {
        broken = rollbackError
      })
    else if (committing) broken = error
    throw error
  } finally {
    if (pin.lease !== undefined) core.release(pin.lease, broken)
  }
}

/** The transaction id a read-write BEGIN read with it (its second result). */
function xidOf(results: unknown): string | undefined {
  const rows = Array.isArray(results) ? (results[1] as pg.QueryResult<{ xid?: unknown }>)?.rows : undefined
  const xid = rows?.[0]?.xid
  return typeof xid === 'string' ? xid : undefined
}

/**
 * The error of a failed `COMMIT`: the server's own (the transaction did not commit: a serialization failure, a
 * deferred constraint) as it is; a failure that lost the answer (`outcome: 'unknown'`) with its outcome resolved
 * ({@link CommitOutcomes}), in a new error of the same code naming it, the first one as `cause`.
 */
async function commitFailed(core: RouterCore, error: unknown, lost: LostCommit): Promise<unknown> {
  if (!isPgRouteError(error) || error.outcome !== 'unknown') return error
  const outcome = await core.outcomes.resolve(lost)
  const what =
    outcome === 'committed'
      ? 'the transaction committed (asked of the primary afterwards)'
      : outcome === 'aborted'
        ? 'the transaction did not commit (asked of the primary afterwards)'
        : 'whether the transaction committed is unknown'
  return new PgRouteError(error.code, `${error.message}; ${what}`, { cause: error, outcome })
}
