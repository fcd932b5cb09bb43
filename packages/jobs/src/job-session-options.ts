/**
 * Where a job's reads may go, as GitLab's Sidekiq `data_consistency`:
 *
 * - `always`: the primary, every read. For jobs that must see the newest data, whoever wrote it.
 * - `sticky`: a replica that has replayed the token of the request that enqueued the job, else the primary.
 * - `delayed`: like `sticky`, but first waits up to `maxWaitMs` for a replica to replay the token; if none
 *   did, the job is retried later (`onLag: 'retry'`, while it has attempts left) or runs now (`'primary'`).
 */
export type DataConsistency = 'always' | 'sticky' | 'delayed'

/**
 * Options of every queue's `inSession()` and of {@link runInJobSession}.
 *
 * @example
 * ```ts
 * inSession(router, handler, { consistency: 'delayed', maxWaitMs: 2000 })
 * ```
 */
export interface JobSessionOptions {
  /** Default `sticky`. */
  readonly consistency?: DataConsistency
  /** `delayed`: how long to wait for a replica to replay the job's token. Default 1000 ms. */
  readonly maxWaitMs?: number
  /** `delayed`: pause between checks while waiting. Default 100 ms. */
  readonly pollMs?: number
  /**
   * `delayed`: what happens when no replica replayed the token within `maxWaitMs`: `retry` (default) fails this
   * attempt with a `ReplicaLagError` for the queue to retry, and runs the job on its last attempt; `primary` runs
   * it now (its reads go to the primary until a replica catches up).
   */
  readonly onLag?: 'retry' | 'primary'
}

/** One attempt at a job, as the worker sees it. */
export interface JobAttempt {
  /** The token of the request that enqueued the job (`tokenOf(payload)`), if any. */
  readonly token: string | undefined
  /** This attempt's number, from 1. */
  readonly attempt: number
  /** How many attempts the queue allows in all; `undefined` when unknown (then no retry is asked for). */
  readonly attempts: number | undefined
  /** Aborted when the worker shuts down: a wait for a replica ends at once. */
  readonly signal?: AbortSignal | undefined
}
