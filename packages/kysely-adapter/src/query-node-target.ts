import type { RouteTarget } from '@pgroute/core'
import type { OperationNode, RootOperationNode } from 'kysely'

/** `FOR UPDATE` / `FOR NO KEY UPDATE` / `FOR SHARE` / `FOR KEY SHARE`: row locks, which a hot standby refuses. */
const LOCKING_MODIFIERS = new Set(['ForUpdate', 'ForNoKeyUpdate', 'ForShare', 'ForKeyShare'])

/** Statements that change data; anywhere inside a SELECT (a CTE, at any depth) they make it a write. */
const DATA_CHANGING_KINDS = new Set([
  'InsertQueryNode',
  'UpdateQueryNode',
  'DeleteQueryNode',
  'MergeQueryNode',
])

/**
 * Nodes with no operation nodes below them worth visiting; `ValueNode` and `PrimitiveValueListNode` hold user values
 * (bound parameters), which may even look like nodes.
 */
const LEAF_KINDS = new Set([
  'ValueNode',
  'PrimitiveValueListNode',
  'IdentifierNode',
  'OperatorNode',
  'SelectAllNode',
])

/** Whether this one node (not its children) makes a SELECT need the primary. */
function needsPrimaryItself(node: OperationNode): boolean {
  if (DATA_CHANGING_KINDS.has(node.kind)) return true
  if (node.kind === 'SelectModifierNode') {
    const { modifier } = node as { modifier?: string }
    return modifier !== undefined && LOCKING_MODIFIERS.has(modifier)
  }
  if (node.kind === 'SelectQueryNode') {
    // `.modifyEnd(sql`…`)` is how a locking clause Kysely has no method for is written (e.g. `FOR UPDATE OF t`).
    // Its text is not read here: a raw end modifier sends the query to the primary.
    const { endModifiers } = node as { endModifiers?: ReadonlyArray<{ rawModifier?: OperationNode }> }
    return endModifiers?.some((modifier) => modifier.rawModifier !== undefined) ?? false
  }
  return false
}

function isOperationNode(value: unknown): value is OperationNode {
  return typeof value === 'object' && value !== null && typeof (value as OperationNode).kind === 'string'
}

/**
 * Walks the whole tree (subqueries, CTEs, joins, expressions) looking for a write or a row lock. Generic over the
 * node's fields, so node kinds added by later Kysely versions are walked too. Runs on every query: kept lean
 * (`for…in` over the frozen nodes is several times faster than `Object.values`).
 */
function needsPrimary(node: OperationNode): boolean {
  if (needsPrimaryItself(node)) return true
  if (LEAF_KINDS.has(node.kind)) return false
  const fields = node as unknown as Record<string, unknown>
  for (const key in fields) {
    const value = fields[key]
    if (typeof value !== 'object' || value === null) continue
    if (Array.isArray(value)) {
      for (const item of value) if (isOperationNode(item) && needsPrimary(item)) return true
    } else if (isOperationNode(value) && needsPrimary(value)) {
      return true
    }
  }
  return false
}

/**
 * Where a compiled Kysely query must run, read from its operation-node tree (no SQL parsing):
 *
 * - `SelectQueryNode` → `'replica'`, unless it holds a row lock (`.forUpdate()`, `.forNoKeyUpdate()`,
 *   `.forShare()`, `.forKeyShare()`, or a raw `.modifyEnd()` clause) or a data-changing statement (a writing CTE,
 *   at any depth) → `'primary'`;
 * - `InsertQueryNode`, `UpdateQueryNode`, `DeleteQueryNode`, `MergeQueryNode` and every schema (DDL) node →
 *   `'primary'`;
 * - `RawNode` (``sql`…` ``) → `undefined`: the tree says nothing, so pgroute's classifier decides from the text.
 *
 * A `'replica'` answer is a permission, not an order: the statement is still classified by text when it runs, so
 * a SELECT calling a write function (`nextval`, an entry of the router's `writeFunctions`) goes to the primary.
 *
 * @example
 * ```ts
 * import { queryNodeTarget } from '@pgroute/kysely'
 *
 * queryNodeTarget(db.selectFrom('person').selectAll().toOperationNode()) // 'replica'
 * queryNodeTarget(db.selectFrom('person').selectAll().forUpdate().toOperationNode()) // 'primary'
 * queryNodeTarget(sql`select 1`.toOperationNode()) // undefined
 * ```
 */
export function queryNodeTarget(node: RootOperationNode): RouteTarget | undefined {
  switch (node.kind) {
    case 'RawNode':
      return undefined
    case 'SelectQueryNode':
      return needsPrimary(node) ? 'primary' : 'replica'
    default:
      // Data changes, DDL, and any kind a later Kysely adds: the primary can run them all.
      return 'primary'
  }
}
