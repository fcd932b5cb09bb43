/**
 * graphile-worker tasks that read what the request that enqueued each job wrote.
 *
 * @example
 * ```ts
 * import { carryToken } from '@pgroute/jobs'
 * import { inSession } from '@pgroute/jobs/graphile-worker'
 *
 * await workerUtils.addJob('welcome', await carryToken(router, { userId })) // in the request
 * await run({ pgPool, taskList: { welcome: inSession(router, async (payload) => sendWelcome(payload)) } })
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

/** What the wrapper reads of graphile-worker's task helpers: the job's attempt counts, and the abort signal. */
export interface GraphileHelpers {
  readonly job: { readonly attempts: number; readonly max_attempts: number }
  readonly abortSignal?: AbortSignal
}

/**
 * Wraps a graphile-worker task: each job runs in a read-your-writes session continuing from the token its
 * payload carries (`carryToken()` at enqueue time), by `options.consistency`. With `delayed`, a job whose token
 * no replica replayed in time fails with `ReplicaLagError` while it has attempts left (`max_attempts`, 25 by
 * default), so graphile-worker retries it with its back-off.
 */
export function inSession<P, H extends GraphileHelpers, R>(
  router: SessionRouter,
  task: (payload: P, helpers: H) => R | Promise<R>,
  options?: JobSessionOptions,
): (payload: P, helpers: H) => Promise<R> {
  const resolved = resolveJobOptions(router, options)
  return (payload, helpers) => {
    const token = tokenOf(payload)
    const attempt = {
      tokens: token === undefined ? [] : [token],
      attempt: helpers.job.attempts,
      attempts: helpers.job.max_attempts,
      signal: helpers.abortSignal,
    }
    return runAttempt(router, resolved, attempt, () => task(payload, helpers))
  }
}
