import type { ClassificationReason } from './classification.js'
import * as K from './sql-keywords.js'

/** How a statement that is settled by its first keyword alone is routed. */
export interface StatementKind {
  readonly primary: boolean
  readonly reason: ClassificationReason
}

const read: StatementKind = { primary: false, reason: 'read' }
const write: StatementKind = { primary: true, reason: 'write' }
const sessionState: StatementKind = { primary: true, reason: 'session-state' }

/**
 * Statements whose first keyword settles them. SELECT, WITH, VALUES, TABLE, EXPLAIN, COPY, CREATE and the
 * transaction statements need a closer look and are not here; any keyword missing from both is `unknown`
 * and goes to the primary.
 */
export const STATEMENT_KINDS: ReadonlyMap<number, StatementKind> = new Map([
  [K.KW_SHOW, read],
  // Data changes, DDL, maintenance, privileges, locks, procedures and anonymous blocks.
  ...[
    K.KW_INSERT,
    K.KW_UPDATE,
    K.KW_DELETE,
    K.KW_MERGE,
    K.KW_TRUNCATE,
    K.KW_ALTER,
    K.KW_DROP,
    K.KW_GRANT,
    K.KW_REVOKE,
    K.KW_VACUUM,
    K.KW_ANALYZE,
    K.KW_ANALYSE,
    K.KW_CLUSTER,
    K.KW_REINDEX,
    K.KW_REFRESH,
    K.KW_LOCK,
    K.KW_CALL,
    K.KW_DO,
    K.KW_COMMENT,
    K.KW_SECURITY,
    K.KW_CHECKPOINT,
    K.KW_IMPORT,
    K.KW_REASSIGN,
  ].map((code) => [code, write] as const),
  // State that lives in the session and must stay on the node later statements of the session use.
  ...[
    K.KW_SET,
    K.KW_RESET,
    K.KW_DISCARD,
    K.KW_EXECUTE,
    K.KW_DEALLOCATE,
    K.KW_LISTEN,
    K.KW_UNLISTEN,
    K.KW_NOTIFY,
    K.KW_LOAD,
    K.KW_DECLARE,
    K.KW_FETCH,
    K.KW_MOVE,
    K.KW_CLOSE,
  ].map((code) => [code, sessionState] as const),
])

/**
 * Why a statement inside EXPLAIN or COPY (…) that is not a query needs the primary: `write` for INSERT, UPDATE,
 * DELETE, MERGE and CREATE TABLE AS, `session-state` for EXECUTE (of a statement prepared there), `unknown` else.
 */
export function nestedStatementReason(code: number): ClassificationReason {
  if (code === K.KW_EXECUTE) return 'session-state'
  const write =
    code === K.KW_INSERT ||
    code === K.KW_UPDATE ||
    code === K.KW_DELETE ||
    code === K.KW_MERGE ||
    code === K.KW_CREATE
  return write ? 'write' : 'unknown'
}
