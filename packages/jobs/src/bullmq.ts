/**
 * BullMQ workers that read what the request that enqueued each job wrote.
 *
 * @example
 * ```ts
 * import { carryToken } from '@pgroute/jobs'
 * import { inSession } from '@pgroute/jobs/bullmq'
 *
 * await queue.add('welcome', await carryToken(router, { userId })) // in the request
 * new Worker('mail', inSession(router, async (job) => sendWelcome(job.data)), { connection })
 * ```
 *
 * @packageDocumentation
 */
import type { JobSessionOptions } from './job-session-options.js'
import { tokenOf } from './job-token.js'
import { resolveJobOptions } from './resolve-options.js'
import { runAttempt } from './run-in-job-session.js'
import type { SessionRouter } from './session-router.js'

export type { DataConsistency, JobSessionOptions } from './job-session-options.js'

/** What the wrapper reads of a BullMQ job: its data and its attempt counts. */
export interface BullJob {
  readonly data: unknown
  /** Attempts that failed so far. */
  readonly attemptsMade: number
  readonly opts: { readonly attempts?: number }
}

/**
 * Wraps a BullMQ processor: each job runs in a read-your-writes session continuing from the token its data
 * carries (`carryToken()` at enqueue time), by `options.consistency`. With `delayed`, a job whose token no
 * replica replayed in time fails with `ReplicaLagError` while it has attempts left, so BullMQ retries it: add
 * jobs with `attempts` of 2 or more (and a `backoff`), since BullMQ's default is a single attempt.
 */
export function inSession<J extends BullJob, R>(
  router: SessionRouter,
  processor: (job: J, token?: string, signal?: AbortSignal) => Promise<R>,
  options?: JobSessionOptions,
): (job: J, token?: string, signal?: AbortSignal) => Promise<R> {
  const resolved = resolveJobOptions(router, options)
  return (job, lockToken, signal) => {
    const token = tokenOf(job.data)
    const attempt = {
      tokens: token === undefined ? [] : [token],
      attempt: job.attemptsMade + 1,
      attempts: job.opts.attempts ?? 1,
      signal,
    }
    return runAttempt(router, resolved, attempt, () => processor(job, lockToken, signal))
  }
}
