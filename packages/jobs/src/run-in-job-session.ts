import { setTimeout as sleep } from 'node:timers/promises'
import type { JobAttempt, JobSessionOptions } from './job-session-options.js'
import { ReplicaLagError } from './replica-lag-error.js'
import { type ResolvedJobOptions, resolveJobOptions } from './resolve-options.js'
import type { SessionRouter } from './session-router.js'

/** Asked in a session continuing from the job's tokens: the router runs it on a replica only if one caught up. */
const CAUGHT_UP_SQL = 'SELECT pg_is_in_recovery() AS standby'

/** Runs `fn` in one session continuing from every token of `tokens` (nested sessions join the outer one). */
function sessionFrom<T>(
  router: SessionRouter,
  tokens: readonly string[],
  fn: () => T | Promise<T>,
): Promise<T> {
  let run = fn
  for (let index = tokens.length - 1; index >= 1; index--) {
    const inner = run
    const token = tokens[index]
    run = () => router.session(inner, { token })
  }
  return router.session(run, { token: tokens[0] })
}

/**
 * Whether a replica has replayed every token of `tokens`: a read in a session continuing from them goes to a
 * replica only when one has (by the router's own rules: health, lag bounds, timeline, its latest probe or a
 * direct check). Checks every `pollMs` for up to `maxWaitMs`.
 */
async function replicaCaughtUp(
  router: SessionRouter,
  tokens: readonly string[],
  options: ResolvedJobOptions,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const deadline = Date.now() + options.maxWaitMs
  for (;;) {
    const { rows } = await sessionFrom(router, tokens, () => router.query(CAUGHT_UP_SQL))
    if ((rows[0] as { standby?: boolean } | undefined)?.standby === true) return true
    const remaining = deadline - Date.now()
    if (remaining <= 0) return false
    await sleep(Math.min(options.pollMs, remaining), undefined, { ref: false, signal })
  }
}

/** One attempt of one job or of a batch of jobs (each token the batch carries), with options resolved. */
export async function runAttempt<T>(
  router: SessionRouter,
  options: ResolvedJobOptions,
  attempt: Omit<JobAttempt, 'token'> & { readonly tokens: readonly string[] },
  fn: () => T | Promise<T>,
): Promise<T> {
  const { tokens } = attempt
  if (options.consistency === 'always') return router.session(fn, { readOnPrimary: true })
  if (options.consistency === 'delayed' && tokens.length > 0) {
    const started = Date.now()
    if (!(await replicaCaughtUp(router, tokens, options, attempt.signal))) {
      const retriesLeft = attempt.attempts !== undefined && attempt.attempt < attempt.attempts
      if (options.onLag === 'retry' && retriesLeft)
        throw new ReplicaLagError(tokens.join(', '), Date.now() - started)
    }
  }
  return sessionFrom(router, tokens, fn)
}

/**
 * Runs one attempt of a job in a read-your-writes session continuing from the token of the request that
 * enqueued it, by the job's `consistency` (see `DataConsistency`). The building block of every queue's
 * `inSession()`, for queues without a helper of their own.
 *
 * @example
 * ```ts
 * const job = await myQueue.take()
 * await runInJobSession(router, { token: tokenOf(job.payload), attempt: job.tries, attempts: 5 }, () =>
 *   handle(job.payload),
 * )
 * ```
 */
export async function runInJobSession<T>(
  router: SessionRouter,
  job: JobAttempt,
  fn: () => T | Promise<T>,
  options?: JobSessionOptions,
): Promise<T> {
  const resolved = resolveJobOptions(router, options)
  const tokens = job.token === undefined ? [] : [job.token]
  return runAttempt(router, resolved, { ...job, tokens }, fn)
}
