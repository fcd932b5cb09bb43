import type pg from 'pg'
import { isCancelledByRouter } from '../pg-errors.js'
import type { Lease } from '../replicas/lease.js'
import type { RunningStatement } from '../replicas/router-node.js'
import type { NodeConnections } from './node-connections.js'
import type { ReleaseMode } from './route-options.js'
import { type Submittable, whenEnded } from './submittable.js'

/** A request sending a submittable, as this file sees it (`StatementRequest`, which it never imports). */
export interface SubmittingRequest extends RunningStatement {
  readonly mode: ReleaseMode
  result: pg.QueryResult | undefined
}

/**
 * Hands a cursor or stream its connection, and calls `ended` (with the failure, or `undefined`) when the
 * submittable is done: pg tells it by its callback, its `end` event or an error, in whose place the router's own
 * reason goes when it cancelled it. For `router.query` the connection goes back then (as `pg.Pool` does); a pinned
 * client's stays the client's.
 */
export function sendSubmittable(
  request: SubmittingRequest,
  lease: Lease,
  submittable: Submittable,
  connections: NodeConnections,
  ended: (failure: unknown) => void,
): void {
  connections.guardReads(lease, submittable)
  whenEnded(
    submittable,
    (error) => connections.reasonFor(lease.client, error),
    (error, result) => {
      lease.node.ended(request, error === undefined)
      const failure =
        error === undefined || isCancelledByRouter(error) ? error : connections.statementFailed(lease, error)
      if (request.mode === 'release') connections.release(lease, failure)
      request.result = result as pg.QueryResult
      ended(failure)
    },
  )
  lease.client.query(submittable as never)
}
