import { ConfigError } from '@pgroute/core'
import type { DataConsistency, JobSessionOptions } from './job-session-options.js'
import type { SessionRouter } from './session-router.js'

/** {@link JobSessionOptions} checked, with defaults applied. */
export interface ResolvedJobOptions {
  readonly consistency: DataConsistency
  readonly maxWaitMs: number
  readonly pollMs: number
  readonly onLag: 'retry' | 'primary'
}

const CONSISTENCIES: readonly DataConsistency[] = ['always', 'sticky', 'delayed']

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'string' || typeof value === 'number' ? JSON.stringify(value) : typeof value
}

/** Checks a worker's router and options up front: a bad value throws a `ConfigError` naming it. */
export function resolveJobOptions(
  router: SessionRouter,
  options: JobSessionOptions = {},
): ResolvedJobOptions {
  const candidate = router as Partial<SessionRouter> | undefined
  if (
    typeof candidate?.session !== 'function' ||
    typeof candidate.token !== 'function' ||
    typeof candidate.query !== 'function'
  ) {
    throw new ConfigError(
      'router',
      `expected a Router from createRouter() of @pgroute/core, got ${describe(router)}`,
    )
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', `expected an object, got ${describe(options)}`)
  }
  const { consistency = 'sticky', maxWaitMs = 1000, pollMs = 100, onLag = 'retry' } = options
  if (!CONSISTENCIES.includes(consistency)) {
    throw new ConfigError(
      'consistency',
      `expected 'always', 'sticky' or 'delayed', got ${describe(consistency)}`,
    )
  }
  if (!Number.isInteger(maxWaitMs) || maxWaitMs < 0 || maxWaitMs > 600_000) {
    throw new ConfigError(
      'maxWaitMs',
      `expected whole milliseconds from 0 to 600000, got ${describe(maxWaitMs)}`,
    )
  }
  if (!Number.isInteger(pollMs) || pollMs < 1 || pollMs > 60_000) {
    throw new ConfigError('pollMs', `expected whole milliseconds from 1 to 60000, got ${describe(pollMs)}`)
  }
  if (onLag !== 'retry' && onLag !== 'primary') {
    throw new ConfigError('onLag', `expected 'retry' or 'primary', got ${describe(onLag)}`)
  }
  return { consistency, maxWaitMs, pollMs, onLag }
}
