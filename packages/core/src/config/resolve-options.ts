import { createClassifier } from '../classify/index.js'
import { ConfigError } from '../errors.js'
import { rejectUnknown, section } from './known-options.js'
import { resolveLogger } from './logger.js'
import { nodeSlots, nodeSpecs } from './node-slots.js'
import { zoneOf } from './node-spec.js'
import { boolean, MAX_TIMER_MS, number, renamed, typeParsers } from './option-readers.js'
import type { ResolvedOptions } from './resolved-options.js'
import { BALANCE_STRATEGIES, type RouterOptions } from './router-options.js'

/** Validates {@link RouterOptions} and applies every default, once. Throws {@link ConfigError}. */
export function resolveOptions(options: RouterOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', 'expected an options object with at least `primary`')
  }
  rejectUnknown(options, '')
  const slots = nodeSlots(options)
  const lag = section(options.lag, 'lag')
  const health = section(options.healthCheck, 'healthCheck')
  const retry = section(options.retry, 'retry')
  const timeouts = section(options.timeouts, 'timeouts')
  const ryw = section(options.readYourWrites, 'readYourWrites')
  const poolDefaults = section(options.pool, 'pool')
  const failover = section(options.failover, 'failover')

  const balance = options.balance ?? 'round-robin'
  if (typeof balance !== 'function' && !BALANCE_STRATEGIES.includes(balance as never)) {
    throw new ConfigError(
      'balance',
      `expected one of ${BALANCE_STRATEGIES.map((s) => `'${s}'`).join(', ')} or a function, got ${JSON.stringify(balance)}`,
    )
  }
  const zone = zoneOf(options.zone, 'zone')
  const fallback = options.fallback ?? 'primary'
  if (fallback !== 'primary' && fallback !== 'error') {
    throw new ConfigError('fallback', `expected 'primary' or 'error', got ${JSON.stringify(fallback)}`)
  }
  const writeFunctions = options.writeFunctions ?? []
  if (
    !Array.isArray(writeFunctions) ||
    writeFunctions.some((f) => typeof f !== 'string' || f.trim() === '')
  ) {
    throw new ConfigError('writeFunctions', 'expected an array of function names')
  }

  const intervalMs = number(health.intervalMs, 'healthCheck.intervalMs', 1000, {
    min: 10,
    max: MAX_TIMER_MS,
    integer: true,
  })
  // A probe must end before the next round is due, or a hung node's probes pile up.
  const timeoutMs = number(health.timeoutMs, 'healthCheck.timeoutMs', Math.min(500, intervalMs - 1), {
    min: 1,
    max: MAX_TIMER_MS,
    integer: true,
  })
  if (timeoutMs >= intervalMs) {
    throw new ConfigError('healthCheck.timeoutMs', `must be below healthCheck.intervalMs (${intervalMs})`)
  }
  const idleIntervalMs = number(
    health.idleIntervalMs,
    'healthCheck.idleIntervalMs',
    Math.max(15_000, intervalMs),
    {
      min: intervalMs,
      max: MAX_TIMER_MS,
      integer: true,
    },
  )
  const poolValues = poolDefaults as Record<string, unknown>
  const connectionTimeoutOption =
    poolValues.connectionTimeoutMillis !== undefined
      ? 'pool.connectionTimeoutMillis'
      : 'pool.connectionTimeoutMs'
  const resolvedPool = {
    max: number(poolDefaults.max, 'pool.max', 10, { min: 1, integer: true }),
    idleTimeoutMs: renamed(poolValues, 'pool', 'idleTimeoutMs', 'idleTimeoutMillis', (value, option) =>
      number(value, option, 10_000, { integer: true, max: MAX_TIMER_MS }),
    ),
    connectionTimeoutMs: renamed(
      poolValues,
      'pool',
      'connectionTimeoutMs',
      'connectionTimeoutMillis',
      (value, option) => number(value, option, 5000, { integer: true, max: MAX_TIMER_MS }),
    ),
  }
  const minTimeoutMs = number(retry.minTimeoutMs, 'retry.minTimeoutMs', 0, { integer: true, max: 60_000 })
  const limits = {
    readMs: number(timeouts.readMs, 'timeouts.readMs', 30_000, { integer: true, max: MAX_TIMER_MS }),
    writeMs: number(timeouts.writeMs, 'timeouts.writeMs', 0, { integer: true, max: MAX_TIMER_MS }),
  }
  if (resolvedPool.connectionTimeoutMs === 0 && (limits.readMs > 0 || limits.writeMs > 0)) {
    throw new ConfigError(
      connectionTimeoutOption,
      '0 (wait forever for a connection) cannot hold timeouts.readMs / timeouts.writeMs: set a limit, or both timeouts to 0',
    )
  }

  const resolved = {
    failover: { waitMs: number(failover.waitMs, 'failover.waitMs', 0, { integer: true, max: 60_000 }) },
    lag: {
      maxBytes: number(lag.maxBytes, 'lag.maxBytes', 16 * 1024 * 1024, { infinite: true }),
      maxMs: renamed(lag as Record<string, unknown>, 'lag', 'maxMs', 'maxSeconds', (value, option) =>
        option === 'lag.maxSeconds'
          ? number(value, option, 10, { infinite: true }) * 1000
          : number(value, option, 10_000, { infinite: true }),
      ),
    },
    healthCheck: {
      intervalMs,
      timeoutMs,
      maxBackoffMs: number(health.maxBackoffMs, 'healthCheck.maxBackoffMs', 5000, {
        min: 1,
        max: MAX_TIMER_MS,
        integer: true,
      }),
      idleAfterMs: number(health.idleAfterMs, 'healthCheck.idleAfterMs', 10_000, {
        min: 0,
        max: MAX_TIMER_MS,
        integer: true,
      }),
      idleIntervalMs,
    },
    balance,
    zone,
    fallback,
    retry: {
      retries: number(retry.retries, 'retry.retries', 2, { integer: true, max: 10 }),
      minTimeoutMs,
      maxTimeoutMs: number(retry.maxTimeoutMs, 'retry.maxTimeoutMs', Math.max(1000, minTimeoutMs), {
        min: minTimeoutMs,
        max: 60_000,
        integer: true,
      }),
    },
    timeouts: limits,
    readYourWrites: {
      maxWaitMs: number(ryw.maxWaitMs, 'readYourWrites.maxWaitMs', 0, { integer: true, max: 60_000 }),
      directCheck: boolean(ryw.directCheck, 'readYourWrites.directCheck', true),
      synchronousApply: boolean(ryw.synchronousApply, 'readYourWrites.synchronousApply', true),
    },
    writeFunctions: writeFunctions.map((f) => f.trim().toLowerCase()),
    types: typeParsers(options.types),
    classifierCacheSize: number(options.classifierCacheSize, 'classifierCacheSize', 1000, { integer: true }),
    routeEvents: boolean(options.routeEvents, 'routeEvents', false),
    learnRouting: boolean(options.learnRouting, 'learnRouting', true),
    logger: resolveLogger(options.logger),
    openTelemetry: boolean(options.openTelemetry, 'openTelemetry', true),
  } as const

  // The classifier parses writeFunctions (throwing a ConfigError naming the entry): before any pool exists too.
  const classifier = createClassifier({
    writeFunctions: resolved.writeFunctions,
    cacheSize: resolved.classifierCacheSize,
  })

  // Nodes last: everything above is validated before any pool exists.
  const nodes = nodeSpecs(slots, resolvedPool, resolved.types)
  const secrets = nodes.flatMap((n) => (n.password ? [n.password] : []))
  return { ...resolved, classifier, nodes, secrets }
}
