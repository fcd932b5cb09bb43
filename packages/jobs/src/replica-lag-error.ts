const brand = Symbol.for('pgroute.replica-lag-error')

/**
 * Thrown by a worker wrapped with `consistency: 'delayed'` when no replica replayed the job's token within
 * `maxWaitMs` and the job has attempts left: the queue retries it later (its own back-off), when a replica is
 * more likely to have caught up. On the job's last attempt the job runs instead, its reads going to the primary
 * until a replica catches up. Check with {@link isReplicaLagError}.
 */
export class ReplicaLagError extends Error {
  /** Machine-readable code. */
  readonly code = 'PGROUTE_REPLICA_LAG'
  /** The token no replica had replayed. */
  readonly token: string
  /** How long the worker waited for one. */
  readonly waitedMs: number

  constructor(token: string, waitedMs: number) {
    super(
      `No replica has replayed the job's token ${token} after ${waitedMs} ms: the job is left for the queue to retry`,
    )
    this.name = 'ReplicaLagError'
    this.token = token
    this.waitedMs = waitedMs
    Object.defineProperty(this, brand, { value: true })
  }
}

/** True for a {@link ReplicaLagError}, from any copy of the package. */
export function isReplicaLagError(error: unknown): error is ReplicaLagError {
  return typeof error === 'object' && error !== null && brand in error
}
