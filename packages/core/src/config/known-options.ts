import type pg from 'pg'
import { ConfigError } from '../errors.js'
import type { RouterOptions } from './router-options.js'

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

/** Throws a ConfigError naming the first key of `value` that is no option of section `name` (`''`: the top level). */
export function rejectUnknown(value: object, name: Section | ''): void {
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

/** The options of section `option` (an object, or nothing); throws a ConfigError for anything else or an unknown key. */
export function section<T extends object>(value: T | undefined, option: Section): Partial<T> {
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
