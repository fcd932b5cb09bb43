import type pg from 'pg'
import { type Classification, leavesReplica } from '../classify/index.js'
import { PgRouteError } from '../errors.js'
import type { Lease } from '../replicas/lease.js'

/*
 * What a pinned client (`RoutedClient`) does between nodes: when its statement may move it, when it leaves its
 * replica, when `pin(target)` is refused, and whether it is in a transaction (which holds it where it is). `lease`
 * is the client's pin, `inTransaction` what the client knows of its transaction.
 */

/** Outside a transaction a replica-pinned client holds no state worth keeping: its statement may move it. */
export function mayMove(lease: Lease | undefined, inTransaction: boolean): boolean {
  return !inTransaction && lease?.role === 'replica'
}

/**
 * A replica-pinned client outside a transaction leaves its replica for a write or a read-write `BEGIN`. The role
 * is the one its connection was checked out as: a primary-pinned client whose node became a replica (a failover)
 * never moves (its statement fails with `PGROUTE_ROLE_CHANGED`: it would lose its session state silently).
 */
export function movesToPrimary(
  lease: Lease | undefined,
  inTransaction: boolean,
  classification: Classification,
): boolean {
  return lease?.role === 'replica' && !inTransaction && leavesReplica(classification)
}

/** `PGROUTE_PINNED` when a client pinned by `lease` cannot move to `target` (inside a transaction, or the primary). */
export function refusedMove(
  lease: Lease,
  inTransaction: boolean,
  target: 'primary' | 'replica',
): PgRouteError | undefined {
  if (!inTransaction && lease.role !== 'primary') return undefined
  return new PgRouteError(
    'PGROUTE_PINNED',
    `This client is pinned to ${lease.role} ${lease.node.name}${inTransaction ? ' inside a transaction' : ''}; it cannot move to the ${target}`,
  )
}

/** Whether a client is in a transaction after a statement classified `classification` succeeded, by its text. */
export function inTransactionAfter(classification: Classification, inTransaction: boolean): boolean {
  const { transaction } = classification
  if (transaction === 'begin' || transaction === 'begin-read-only') return true
  if (transaction === 'end') return false
  return inTransaction
}

/**
 * Whether the server has a transaction open on `connection`, as pg (8.15+) reports it; `undefined` when pg does not
 * say. It beats guessing from statement text ({@link inTransactionAfter}).
 */
export function serverInTransaction(connection: pg.PoolClient | undefined): boolean | undefined {
  const status = (
    connection as { getTransactionStatus?: () => string | null } | undefined
  )?.getTransactionStatus?.()
  return status === 'I' ? false : status === 'T' || status === 'E' ? true : undefined
}
