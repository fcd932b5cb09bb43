import { isPgRouteError, PgRouteError } from '../errors.js'
import { isConnectionError } from '../pg-errors.js'
import type { RouterNode } from './router-node.js'

/**
 * The error of a statement that could not run on the primary, or whose primary failed under it: the primary is
 * marked down, or the failure was the node's (not the statement's). Anything else is returned as it is.
 */
export function primaryUnavailable(primary: RouterNode, error: unknown): unknown {
  if (isPgRouteError(error) && error.code === 'PGROUTE_PRIMARY_UNAVAILABLE') return error
  const nodeDown = isPgRouteError(error) && error.code === 'PGROUTE_NODE_DOWN'
  if (error !== undefined && !nodeDown && !isConnectionError(error)) return error
  return new PgRouteError(
    'PGROUTE_PRIMARY_UNAVAILABLE',
    `The primary ${primary.name} is unavailable (${primary.lastError ?? 'marked down'})`,
    { cause: error ?? primary.lastFailure },
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
