/**
 * The one error class `@pgroute/cluster` throws for its own failures. Database errors raised by `query()` are
 * never wrapped: they reach the caller exactly as `pg` produced them.
 */

const clusterErrorBrand = Symbol.for('pgroute.cluster-error')

/** Machine-readable codes of {@link ClusterError}. */
export type ClusterErrorCode =
  /** An option is invalid; {@link ClusterError.option} names it (e.g. `replicaOptions[1].applyDelay`). */
  | 'PGROUTE_CLUSTER_INVALID_OPTION'
  /** The PostgreSQL binaries (initdb, postgres) could not be found or cannot be run. */
  | 'PGROUTE_CLUSTER_BINARIES_NOT_FOUND'
  /** A server (or initdb) failed to start; the message ends with the server's last log lines. */
  | 'PGROUTE_CLUSTER_START_FAILED'
  /** Something did not happen within its time limit (start-up, replication catch-up, promotion). */
  | 'PGROUTE_CLUSTER_TIMEOUT'
  /** The operation was aborted through its `AbortSignal`. */
  | 'PGROUTE_CLUSTER_ABORTED'
  /** The operation is not possible on this node or cluster (e.g. stopping a node of an external cluster). */
  | 'PGROUTE_CLUSTER_NOT_SUPPORTED'
  /** The operation does not fit the node's current state (e.g. promoting the primary, pausing a stopped node). */
  | 'PGROUTE_CLUSTER_INVALID_STATE'
  /** A server of an external cluster does not answer (wrong address, port or credentials, or it is down). */
  | 'PGROUTE_CLUSTER_UNREACHABLE'
  /** The Docker backend cannot run: testcontainers is not installed or no container engine is reachable. */
  | 'PGROUTE_CLUSTER_DOCKER_UNAVAILABLE'

/** Extra details of a {@link ClusterError}. */
export interface ClusterErrorOptions {
  /** The underlying error. */
  readonly cause?: unknown
  /** Path of the offending option, e.g. `replicaOptions[0].applyDelay`. */
  readonly option?: string
  /** Name of the node concerned, e.g. `replica-1`. */
  readonly node?: string
}

/**
 * Error thrown by `@pgroute/cluster`. Check with {@link isClusterError}, which also recognises errors from other
 * copies of the package.
 *
 * @example
 * ```ts
 * try {
 *   await startCluster({ replicas: -1 })
 * } catch (error) {
 *   if (isClusterError(error)) console.error(error.code, error.option) // PGROUTE_CLUSTER_INVALID_OPTION replicas
 * }
 * ```
 */
export class ClusterError extends Error {
  /** Machine-readable error code. */
  readonly code: ClusterErrorCode
  /** Path of the offending option, when an option is to blame. */
  readonly option: string | undefined
  /** Name of the node concerned, when one node is to blame. */
  readonly node: string | undefined

  constructor(code: ClusterErrorCode, message: string, options: ClusterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ClusterError'
    this.code = code
    this.option = options.option
    this.node = options.node
    Object.defineProperty(this, clusterErrorBrand, { value: true })
  }
}

/** True for every {@link ClusterError}, from any copy of `@pgroute/cluster`. */
export function isClusterError(error: unknown): error is ClusterError {
  return typeof error === 'object' && error !== null && clusterErrorBrand in error
}

/** Builds the error for an invalid option, naming it in the message and in {@link ClusterError.option}. */
export function invalidOption(option: string, problem: string): ClusterError {
  return new ClusterError('PGROUTE_CLUSTER_INVALID_OPTION', `Invalid option \`${option}\`: ${problem}`, {
    option,
  })
}
