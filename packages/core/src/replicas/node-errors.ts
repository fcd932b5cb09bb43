import { isPgRouteError, type Outcome, PgRouteError } from '../errors.js'
import { isConnectionError } from '../pg-errors.js'
import type { RouterNode } from './router-node.js'

/**
 * The error of a statement that could not run on the primary, or whose primary failed under it: the primary is
 * marked down, or the failure was the node's (not the statement's). Anything else is returned as it is. `outcome`:
 * what became of the statement's write, when it is known (`aborted`: it was not sent, or the server ended it
 * before it could commit; `unknown`: it was sent and its answer lost).
 */
export function primaryUnavailable(primary: RouterNode, error: unknown, outcome?: Outcome): unknown {
  if (isPgRouteError(error) && error.code === 'PGROUTE_PRIMARY_UNAVAILABLE') return error
  const nodeDown = isPgRouteError(error) && error.code === 'PGROUTE_NODE_DOWN'
  if (error !== undefined && !nodeDown && !isConnectionError(error)) return error
  const what =
    outcome === 'aborted'
      ? ': the statement did not run'
      : outcome === 'unknown'
        ? ': the statement may or may not have run'
        : ''
  return new PgRouteError(
    'PGROUTE_PRIMARY_UNAVAILABLE',
    `The primary ${primary.name} is unavailable (${primary.lastError ?? 'marked down'})${what}`,
    { cause: error ?? primary.lastFailure, outcome },
  )
}

/** The error of a statement cancelled because `node` was marked down while it ran or waited for a connection. */
export function nodeDownError(node: RouterNode): PgRouteError {
  return new PgRouteError(
    'PGROUTE_NODE_DOWN',
    `${node.name} was marked down (${node.lastError ?? 'unreachable'}); the statement was cancelled`,
    { cause: node.lastFailure },
  )
}
