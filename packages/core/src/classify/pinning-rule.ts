import type { Classification } from './classification.js'

/**
 * Whether a connection pinned to a replica, outside a transaction, must leave its replica for the statement
 * classified as `classification`: a write, session state, or a read-write `BEGIN` (nothing is open yet).
 * Savepoints, `COMMIT` / `ROLLBACK` and a read-only `BEGIN` belong where they are.
 *
 * `RoutedClient` moves to the primary when it says so; the Kysely adapter refuses the statement instead.
 */
export function leavesReplica(classification: Classification): boolean {
  return (
    classification.target === 'primary' &&
    classification.transaction !== 'end' &&
    classification.transaction !== 'begin-read-only' &&
    classification.reason !== 'transaction-control'
  )
}
