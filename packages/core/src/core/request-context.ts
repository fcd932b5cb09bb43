import type { ResolvedOptions } from '../config/resolved-options.js'
import type { RouterTracer } from '../observability/router-tracer.js'
import type { ReplicaSet } from '../replicas/replica-set.js'
import type { ReadYourWrites } from '../session/read-your-writes.js'
import type { NodeConnections } from './node-connections.js'
import type { PrimaryPath } from './primary-path.js'
import type { ReadPath } from './read-path.js'
import type { RejectionLog } from './rejection-log.js'

/**
 * The router's parts every request uses, held once by the router's core (`RouterCore`, which is one) and shared by
 * all requests: the fast path's (`statement-request.ts`) and the slow path's (`request-attempts.ts`,
 * `request-recovery.ts`), so that neither imports the other's class.
 */
export interface RequestContext {
  readonly replicas: ReplicaSet
  readonly reads: ReadPath
  readonly primaries: PrimaryPath
  readonly connections: NodeConnections
  readonly rejections: RejectionLog
  /** Where a session's writes landed (`wrote`). */
  readonly causal: Pick<ReadYourWrites, 'wrote'>
  readonly tracer: RouterTracer
  readonly options: Pick<ResolvedOptions, 'retry' | 'timeouts'>
}
