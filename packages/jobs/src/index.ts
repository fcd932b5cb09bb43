/**
 * Background jobs that read what the request that enqueued them wrote: `carryToken()` puts the request's
 * read-your-writes token in the job's payload, and each queue's `inSession()` (`@pgroute/jobs/pg-boss`,
 * `/graphile-worker`, `/bullmq`) runs the job in a session continuing from it, with a per-worker consistency
 * like GitLab's Sidekiq `data_consistency` (`always`, `sticky`, `delayed`). This entry point loads no queue.
 *
 * @example
 * ```ts
 * import { carryToken } from '@pgroute/jobs'
 * import { inSession } from '@pgroute/jobs/bullmq'
 *
 * await queue.add('welcome', await carryToken(router, { userId })) // in the request, after its writes
 * new Worker('mail', inSession(router, async (job) => sendWelcome(job.data), { consistency: 'sticky' }), { connection })
 * ```
 *
 * @packageDocumentation
 */

export type { DataConsistency, JobAttempt, JobSessionOptions } from './job-session-options.js'
export { carryToken, TOKEN_KEY, tokenOf, type WithToken } from './job-token.js'
export { isReplicaLagError, ReplicaLagError } from './replica-lag-error.js'
export { runInJobSession } from './run-in-job-session.js'
export type { SessionRouter } from './session-router.js'
