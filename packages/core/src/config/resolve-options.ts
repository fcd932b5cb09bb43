import type pg from 'pg'
import { createClassifier } from '../classify/index.js'
import { ConfigError } from '../errors.js'
import { resolveLogger } from './logger.js'
import { expandHosts, toNodeSpec, zoneOf } from './node-spec.js'
import type { ResolvedOptions } from './resolved-options.js'
import type { NodeInput, ReplicaInput } from './router-options.js'
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
  nodes: true,
  failover: ['waitMs'],
  lag: ['maxBytes', 'maxMs', 'maxSeconds'],
  healthCheck: ['intervalMs', 'timeoutMs', 'maxBackoffMs', 'idleAfterMs', 'idleIntervalMs'],
  balance: true,
  zone: true,
  fallback: true,
  retry: ['retries', 'minTimeoutMs', 'maxTimeoutMs'],
  timeouts: ['readMs', 'writeMs'],
  readYourWrites: ['maxWaitMs', 'directCheck', 'synchronousApply'],
  writeFunctions: true,
  pool: ['max', 'idleTimeoutMs', 'connectionTimeoutMs', 'idleTimeoutMillis', 'connectionTimeoutMillis'],
  // pg's types object (pg.types has more than getTypeParser): checked for its method, not for unknown keys.
  types: ['getTypeParser'],
  classifierCacheSize: true,
  routeEvents: true,
  learnRouting: true,
  // A logger is checked for its four methods, not for unknown keys: a real one has many more.
  logger: ['debug', 'info', 'warn', 'error'],
  openTelemetry: true,
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

/** The longest delay Node's timers take (2³¹−1 ms, about 24.8 days): a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

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
    const why = max === MAX_TIMER_MS ? " (2³¹−1 ms: the longest delay Node's timers take)" : ''
    const expected = `${integer ? 'an integer' : 'a number'} ${range}${infinite ? ' (or Infinity)' : ''}`
    throw new ConfigError(option, `expected ${expected}${why}, got ${JSON.stringify(value) ?? String(value)}`)
  }
  return value as number
}

/**
 * An option with a new spelling and a deprecated one (`section.name` and `section.old`): the value given under
 * either, validated under the name it was given as. Both at once is an error.
 */
function renamed<T>(
  value: Record<string, unknown>,
  section: string,
  name: string,
  old: string,
  read: (given: unknown, option: string) => T,
): T {
  if (value[name] !== undefined && value[old] !== undefined) {
    throw new ConfigError(
      `${section}.${old}`,
      `give either \`${section}.${name}\` or \`${section}.${old}\` (deprecated), not both`,
    )
  }
  return value[old] !== undefined
    ? read(value[old], `${section}.${old}`)
    : read(value[name], `${section}.${name}`)
}

/** Validates the `types` option: `undefined`, or pg's types (an object with `getTypeParser`). */
function typeParsers(value: unknown): pg.CustomTypesConfig | undefined {
  if (value === undefined) return undefined
  if (typeof (value as pg.CustomTypesConfig | null)?.getTypeParser !== 'function') {
    throw new ConfigError(
      'types',
      "expected pg's types: an object with a getTypeParser function (e.g. pg.types)",
    )
  }
  return value as pg.CustomTypesConfig
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
  const seen = new Set<string>()
  for (const [i, slot] of slots.entries()) {
    const name = nameOf(slot.input)
    if (name === undefined) continue
    if (seen.has(name)) throw new ConfigError(`${slots[i]!.option}.name`, `duplicate node name '${name}'`)
    seen.add(name)
  }
  const nodes: Array<ReturnType<typeof toNodeSpec>> = []
  try {
    for (const slot of slots) {
      const spec = toNodeSpec(slot.input, slot, resolvedPool, resolved.types)
      if (nodes.some((node) => node.name === spec.name)) {
        throw new ConfigError(`${slot.option}.name`, `duplicate node name '${spec.name}'`)
      }
      nodes.push(spec)
    }
  } catch (error) {
    // Pools made for the nodes before the bad one must not be left open.
    for (const node of nodes) if (node.ownsPool) void node.pool.end()
    throw error
  }
  const secrets = nodes.flatMap((n) => (n.password ? [n.password] : []))
  return { ...resolved, classifier, nodes, secrets }
}

interface InputSlot {
  readonly input: NodeInput | ReplicaInput
  readonly role: 'primary' | 'replica'
  readonly option: string
  readonly fallbackName: string
}

/** The name a config input gives its node, if any (checked for duplicates before any pool exists). */
function nameOf(input: NodeInput | ReplicaInput): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined
  const name = (input as { name?: unknown }).name
  return typeof name === 'string' ? name : undefined
}

/** Every node input, one per host, from `primary` + `replicas` or from `nodes`; the first is the primary's guess. */
function nodeSlots(options: RouterOptions): InputSlot[] {
  const { primary, replicas, nodes } = options
  const listed: Array<{ input: NodeInput | ReplicaInput; option: string; fallback: string }> = []
  if (nodes !== undefined) {
    if (primary !== undefined || replicas !== undefined) {
      throw new ConfigError('nodes', 'give either `nodes` or `primary` (with `replicas`), not both')
    }
    if (!Array.isArray(nodes) || nodes.length === 0)
      throw new ConfigError('nodes', 'expected a non-empty array')
    for (const [i, input] of nodes.entries())
      listed.push({ input, option: `nodes[${i}]`, fallback: `node-${i + 1}` })
  } else {
    if (primary === undefined || primary === null) {
      throw new ConfigError(
        'primary',
        'is required (a connection string, pg.PoolConfig or pg.Pool), or give `nodes`',
      )
    }
    const replicaInputs = replicas ?? []
    if (!Array.isArray(replicaInputs)) throw new ConfigError('replicas', 'expected an array')
    listed.push({ input: primary, option: 'primary', fallback: 'primary' })
    for (const [i, input] of replicaInputs.entries()) {
      listed.push({ input, option: `replicas[${i}]`, fallback: `replica-${i + 1}` })
    }
  }
  return listed.flatMap(({ input, option, fallback }, i) => {
    const inputs = expandHosts(input, option)
    return inputs.map((part, j) => ({
      input: part,
      option,
      role: i === 0 && j === 0 ? ('primary' as const) : ('replica' as const),
      fallbackName: inputs.length > 1 ? `${fallback}-${j + 1}` : fallback,
    }))
  })
}
