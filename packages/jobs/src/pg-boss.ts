/**
 * pg-boss (10 and later) workers that read what the request that enqueued each job wrote.
 *
 * @example
 * ```ts
 * import { carryToken } from '@pgroute/jobs'
 * import { inSession } from '@pgroute/jobs/pg-boss'
 *
 * await boss.send('welcome', await carryToken(router, { userId })) // in the request
 * await boss.work('welcome', { includeMetadata: true }, inSession(router, async ([job]) => sendWelcome(job.data)))
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

/** What the wrapper reads of a pg-boss job: its data, and with `includeMetadata: true` its retry counts. */
export interface PgBossJob {
  readonly data: unknown
  readonly retryCount?: number
  readonly retryLimit?: number
}

/**
 * Wraps a pg-boss work handler: each batch runs in one read-your-writes session continuing from the tokens its
 * jobs carry (`carryToken()` at enqueue time), by `options.consistency`. With `delayed`, a batch whose tokens no
 * replica replayed in time fails with `ReplicaLagError` while every job has retries left, so pg-boss retries it
 * (`retryLimit`, `retryDelay`); give `work()` `includeMetadata: true` so the wrapper knows the retry counts
 * (without them it never asks for a retry).
 */
export function inSession<J extends PgBossJob, R>(
  router: SessionRouter,
  handler: (jobs: J[]) => Promise<R>,
  options?: JobSessionOptions,
): (jobs: J[]) => Promise<R> {
  const resolved = resolveJobOptions(router, options)
  return (jobs) => {
    const tokens = jobs.map((job) => tokenOf(job.data)).filter((token) => token !== undefined)
    // A retry is asked for only if every job of the batch has one left (a failed batch fails every job).
    const known = jobs.every((job) => job.retryCount !== undefined && job.retryLimit !== undefined)
    const left = known ? Math.min(...jobs.map((job) => job.retryLimit! - job.retryCount!)) : undefined
    const attempt = { tokens, attempt: 1, attempts: left === undefined ? undefined : 1 + left }
    return runAttempt(router, resolved, attempt, () => handler(jobs))
  }
}
