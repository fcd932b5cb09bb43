import type { Options } from 'p-retry'
import type { ResolvedOptions } from '../config/resolved-options.js'

/** The resolved `retry` option. */
export type RetryOptions = ResolvedOptions['retry']

/** How {@link retryPolicy} tunes the configured back-off for one kind of retry. */
export interface RetryTuning {
  /** Which failures are worth another attempt. */
  readonly shouldRetry: (error: unknown) => boolean
  /**
   * The shortest wait between p-retry's attempts. Defaults to twice `retry.minTimeoutMs` (capped by
   * `retry.maxTimeoutMs`): the caller already waited `minTimeoutMs` before entering p-retry.
   */
  readonly minTimeoutMs?: number
}

/**
 * p-retry options for the attempts after a first one that ran outside p-retry (the path every statement takes
 * stays free of it): `retries - 1` more, exponential and deterministic, with timers that never hold the
 * process open.
 */
export function retryPolicy(retry: RetryOptions, tuning: RetryTuning): Options {
  const minTimeout = tuning.minTimeoutMs ?? Math.min(retry.minTimeoutMs * 2, retry.maxTimeoutMs)
  return {
    retries: retry.retries - 1,
    minTimeout,
    maxTimeout: Math.max(retry.maxTimeoutMs, minTimeout),
    factor: 2,
    randomize: false,
    unref: true,
    shouldRetry: ({ error }) => tuning.shouldRetry(error),
  }
}
