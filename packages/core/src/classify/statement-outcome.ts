import type { ClassificationReason } from './classification.js'

/** Values of {@link StatementOutcome.transaction}: the statement leaves the session's transaction alone. */
export const TXN_NONE = 0
/** It opens a transaction (BEGIN / START TRANSACTION). */
export const TXN_BEGIN = 1
/** It opens a transaction whose modes end up READ ONLY. */
export const TXN_BEGIN_READ_ONLY = 2
/** It ends the transaction (COMMIT, ROLLBACK, END, ABORT, PREPARE TRANSACTION). */
export const TXN_END = 3

/** What one statement needs: what `StatementAnalyzer` publishes and `TextAnalyzer` combines. */
export interface StatementOutcome {
  primary: boolean
  reason: ClassificationReason
  /** TXN_* effect on the session's transaction. */
  transaction: number
  /** SAVEPOINT, RELEASE, ROLLBACK TO, COMMIT AND CHAIN: fine inside a read-only transaction on a replica. */
  readOnlyCompatible: boolean
}
