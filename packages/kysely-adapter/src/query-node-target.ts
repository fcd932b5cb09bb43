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

/** Nodes whose other fields hold user values (bound parameters), never operation nodes. */
const VALUE_KINDS = new Set(['ValueNode', 'PrimitiveValueListNode'])

function isOperationNode(value: unknown): value is OperationNode {
  return typeof value === 'object' && value !== null && typeof (value as OperationNode).kind === 'string'
}

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

/** Walks the whole tree (subqueries, CTEs, joins, expressions) looking for a write or a row lock. */
function selectNeedsPrimary(root: OperationNode): boolean {
  const stack: OperationNode[] = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (needsPrimaryItself(node)) return true
    if (VALUE_KINDS.has(node.kind)) continue
    for (const key in node) {
      const value = (node as unknown as Record<string, unknown>)[key]
      if (Array.isArray(value)) {
        for (const item of value) if (isOperationNode(item)) stack.push(item)
      } else if (isOperationNode(value)) {
        stack.push(value)
      }
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
 * - `RawNode` (`sql`…``) → `undefined`: the tree says nothing, so pgroute's classifier decides from the text.
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
      return selectNeedsPrimary(node) ? 'primary' : 'replica'
    default:
      // Data changes, DDL, and any kind a later Kysely adds: the primary can run them all.
      return 'primary'
  }
}
