import type pg from 'pg'
import { createClassifier } from '../classify/index.js'
import { ConfigError } from '../errors.js'
import { toNodeSpec } from './node-spec.js'
import type { ResolvedOptions } from './resolved-options.js'
import { BALANCE_STRATEGIES, type RouterOptions } from './router-options.js'

type Sections = {
  readonly [K in keyof RouterOptions]-?: NonNullable<RouterOptions[K]> extends
    | pg.Pool
    | string
    | readonly unknown[]
    ? true
    : NonNullable<RouterOptions[K]> extends object
      ? readonly (keyof NonNullable<RouterOptions[K]>)[]
      : true
}

/**
 * Every option `createRouter` knows, by section (`true`: a value, not a section): anything else is a typo worth
 * reporting. Tied to {@link RouterOptions}, so an option added there must be added here.
 */
const KNOWN_OPTIONS = {
  primary: true,
  replicas: true,
  lag: ['maxBytes', 'maxSeconds'],
  healthCheck: ['intervalMs', 'timeoutMs', 'maxBackoffMs'],
  balance: true,
  fallback: true,
  retry: ['retries', 'minTimeoutMs', 'maxTimeoutMs'],
  timeouts: ['readMs', 'writeMs'],
  readYourWrites: ['maxWaitMs', 'directCheck'],
  writeFunctions: true,
  pool: ['max', 'idleTimeoutMillis', 'connectionTimeoutMillis'],
  classifierCacheSize: true,
  routeEvents: true,
} as const satisfies Sections

type Section = {
  [K in keyof typeof KNOWN_OPTIONS]: (typeof KNOWN_OPTIONS)[K] extends true ? never : K
}[keyof typeof KNOWN_OPTIONS]

const TOP_LEVEL: readonly string[] = Object.keys(KNOWN_OPTIONS)

function rejectUnknown(value: object, name: Section | ''): void {
  const known: readonly string[] = name === '' ? TOP_LEVEL : KNOWN_OPTIONS[name]
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ConfigError(
        name ? `${name}.${key}` : key,
        `unknown option (expected one of ${known.map((k) => `\`${k}\``).join(', ')})`,
      )
    }
  }
}

function section<T extends object>(value: T | undefined, option: Section): Partial<T> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(
      option,
      `expected an object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`,
    )
  }
  rejectUnknown(value, option)
  return value
}

function number(
  value: unknown,
  option: string,
  fallback: number,
  {
    min = 0,
    max = Number.POSITIVE_INFINITY,
    integer = false,
    infinite = false,
  }: { min?: number; max?: number; integer?: boolean; infinite?: boolean } = {},
): number {
  if (value === undefined) return fallback
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    value >= min &&
    value <= max &&
    (infinite ? true : Number.isFinite(value)) &&
    (!integer || !Number.isFinite(value) || Number.isInteger(value))
  if (!ok) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `from ${min} to ${max}`
    const expected = `${integer ? 'an integer' : 'a number'} ${range}${infinite ? ' (or Infinity)' : ''}`
    throw new ConfigError(option, `expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`)
  }
  return value as number
}

function boolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new ConfigError(option, `expected a boolean, got ${typeof value}`)
  return value
}

/** Validates {@link RouterOptions} and applies every default, once. Throws {@link ConfigError}. */
export function resolveOptions(options: RouterOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', 'expected an options object with at least `primary`')
  }
  rejectUnknown(options, '')
  if (options.primary === undefined || options.primary === null) {
    throw new ConfigError('primary', 'is required (a connection string, pg.PoolConfig or pg.Pool)')
  }
  const replicasInput = options.replicas ?? []
  if (!Array.isArray(replicasInput)) throw new ConfigError('replicas', 'expected an array')

  const lag = section(options.lag, 'lag')
  const health = section(options.healthCheck, 'healthCheck')
  const retry = section(options.retry, 'retry')
  const timeouts = section(options.timeouts, 'timeouts')
  const ryw = section(options.readYourWrites, 'readYourWrites')
  const poolDefaults = section(options.pool, 'pool')

  const balance = options.balance ?? 'round-robin'
  if (typeof balance !== 'function' && !BALANCE_STRATEGIES.includes(balance as never)) {
    throw new ConfigError(
      'balance',
      `expected one of ${BALANCE_STRATEGIES.map((s) => `'${s}'`).join(', ')} or a function, got ${JSON.stringify(balance)}`,
    )
  }
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

  const intervalMs = number(health.intervalMs, 'healthCheck.intervalMs', 1000, { min: 10, integer: true })
  // A probe must end before the next round is due, or a hung node's probes pile up.
  const timeoutMs = number(health.timeoutMs, 'healthCheck.timeoutMs', Math.min(500, intervalMs - 1), {
    min: 1,
    integer: true,
  })
  if (timeoutMs >= intervalMs) {
    throw new ConfigError('healthCheck.timeoutMs', `must be below healthCheck.intervalMs (${intervalMs})`)
  }
  const resolvedPool = {
    max: number(poolDefaults.max, 'pool.max', 10, { min: 1, integer: true }),
    idleTimeoutMillis: number(poolDefaults.idleTimeoutMillis, 'pool.idleTimeoutMillis', 10_000, {
      integer: true,
    }),
    connectionTimeoutMillis: number(
      poolDefaults.connectionTimeoutMillis,
      'pool.connectionTimeoutMillis',
      5000,
      {
        integer: true,
      },
    ),
  }
  const minTimeoutMs = number(retry.minTimeoutMs, 'retry.minTimeoutMs', 0, { integer: true, max: 60_000 })
  const limits = {
    readMs: number(timeouts.readMs, 'timeouts.readMs', 30_000, { integer: true }),
    writeMs: number(timeouts.writeMs, 'timeouts.writeMs', 0, { integer: true }),
  }
  if (resolvedPool.connectionTimeoutMillis === 0 && (limits.readMs > 0 || limits.writeMs > 0)) {
    throw new ConfigError(
      'pool.connectionTimeoutMillis',
      '0 (wait forever for a connection) cannot hold timeouts.readMs / timeouts.writeMs: set a limit, or both timeouts to 0',
    )
  }

  const resolved = {
    lag: {
      maxBytes: number(lag.maxBytes, 'lag.maxBytes', 16 * 1024 * 1024, { infinite: true }),
      maxSeconds: number(lag.maxSeconds, 'lag.maxSeconds', 10, { infinite: true }),
    },
    healthCheck: {
      intervalMs,
      timeoutMs,
      maxBackoffMs: number(health.maxBackoffMs, 'healthCheck.maxBackoffMs', 5000, { min: 1, integer: true }),
    },
    balance,
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
    },
    writeFunctions: writeFunctions.map((f) => f.trim().toLowerCase()),
    classifierCacheSize: number(options.classifierCacheSize, 'classifierCacheSize', 1000, { integer: true }),
    routeEvents: boolean(options.routeEvents, 'routeEvents', false),
  } as const

  // The classifier parses writeFunctions (throwing a ConfigError naming the entry): before any pool exists too.
  const classifier = createClassifier({
    writeFunctions: resolved.writeFunctions,
    cacheSize: resolved.classifierCacheSize,
  })

  // Nodes last: everything above is validated before any pool exists.
  const primary = toNodeSpec(
    options.primary,
    { role: 'primary', option: 'primary', fallbackName: 'primary' },
    resolvedPool,
  )
  const replicas = replicasInput.map((input, i) =>
    toNodeSpec(
      input,
      { role: 'replica', option: `replicas[${i}]`, fallbackName: `replica-${i + 1}` },
      resolvedPool,
    ),
  )
  const seen = new Set<string>()
  for (const [i, node] of [primary, ...replicas].entries()) {
    if (seen.has(node.name)) {
      throw new ConfigError(
        i === 0 ? 'primary' : `replicas[${i - 1}].name`,
        `duplicate node name '${node.name}'`,
      )
    }
    seen.add(node.name)
  }
  const secrets = [primary, ...replicas].flatMap((n) => (n.password ? [n.password] : []))
  return { ...resolved, classifier, primary, replicas, secrets }
}
