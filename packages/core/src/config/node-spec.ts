import pg from 'pg'
import { ConfigError } from '../errors.js'
import { splitHosts } from './multi-host.js'
import { MAX_TIMER_MS } from './option-readers.js'
import type { NodeSpec } from './resolved-options.js'
import type { NodeInput, ReplicaInput } from './router-options.js'

/** The pool settings of the nodes the router creates, as resolved from the `pool` option. */
export interface PoolSettings {
  readonly max: number
  readonly idleTimeoutMs: number
  readonly connectionTimeoutMs: number
}

/**
 * Says, once per process, that the router was given a pool of another copy of `pg`: libraries that check
 * `pool instanceof pg.Pool` against the application's copy will not recognise `router.pool`.
 */
let warnedForeignPg = false
function warnForeignPg(option: string): void {
  if (warnedForeignPg) return
  warnedForeignPg = true
  process.emitWarning(
    `\`${option}\` is a pg.Pool of another copy of \`pg\` than the one pgroute uses (or a look-alike): two copies of ` +
      "pg are installed. pgroute routes through it all the same, but a library whose pg is not pgroute's will not " +
      'take `router.pool` for a pg.Pool (it may take it for a connection config). Install one copy of pg: see `npm ls pg`, ' +
      'then `npm dedupe` (or pnpm `overrides` / yarn `resolutions`).',
    { type: 'PgRouteWarning', code: 'PGROUTE_FOREIGN_PG' },
  )
}

/** Duck-typed so a `pg.Pool` from another copy of `pg` is accepted too. */
function isPool(value: unknown): value is pg.Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as pg.Pool).connect === 'function' &&
    typeof (value as pg.Pool).query === 'function' &&
    typeof (value as { options?: unknown }).options === 'object'
  )
}

/** `host:port/database`, read from a connection string or config; never includes credentials. */
function displayName(config: pg.PoolConfig, fallback: string): string {
  let { host, port, database } = config
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString)
      host = decodeURIComponent(url.hostname) || host
      port = url.port ? Number(url.port) : port
      database = decodeURIComponent(url.pathname.slice(1)) || database
    } catch {
      // Not URL-shaped (e.g. a keyword/value string): pg will parse it; we only lose a nicer name.
    }
  }
  if (!host) return fallback
  return `${host}:${port ?? 5432}${database ? `/${database}` : ''}`
}

/** Password of a config, including the one a connection string carries. */
function passwordOf(config: pg.PoolConfig): string | undefined {
  if (typeof config.password === 'string' && config.password) return config.password
  if (config.connectionString) {
    try {
      const password = decodeURIComponent(new URL(config.connectionString).password)
      return password || undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/** Validates a `zone` (the router's or a node's): `undefined`, or a non-empty string (trimmed). */
export function zoneOf(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(
      option,
      `expected a non-empty string (an availability zone, e.g. 'use1-az1'), got ${JSON.stringify(value) ?? String(value)}`,
    )
  }
  return value.trim()
}

/**
 * Pool and client settings pg turns into Node timers (`maxLifetimeSeconds` in seconds): a value past 2³¹−1 ms
 * would fire at once (every connect timing out, every idle connection closed, every query timed out).
 */
const TIMER_SETTINGS: ReadonlyArray<readonly [name: string, msPerUnit: number]> = [
  ['connectionTimeoutMillis', 1],
  ['idleTimeoutMillis', 1],
  ['query_timeout', 1],
  ['maxLifetimeSeconds', 1000],
]

/** Throws a ConfigError naming `option.<setting>` for a timer setting of `config` that Node's timers cannot take. */
function checkTimers(config: object, option: string): void {
  for (const [name, msPerUnit] of TIMER_SETTINGS) {
    const value = (config as Record<string, unknown>)[name]
    if (typeof value === 'number' && value * msPerUnit > MAX_TIMER_MS) {
      const limit = Math.floor(MAX_TIMER_MS / msPerUnit)
      throw new ConfigError(
        `${option}.${name}`,
        `expected at most ${limit} (2³¹−1 = ${MAX_TIMER_MS} ms: the longest delay Node's timers take), got ${value}`,
      )
    }
  }
}

/** Which node an input describes: its role, the option it came from, the name it gets when none is given. */
export interface NodeSlot {
  readonly role: 'primary' | 'replica'
  readonly option: string
  readonly fallbackName: string
}

/** Turns one `primary`/`replicas[i]` option into a {@link NodeSpec}, validating it. */
export function toNodeSpec(
  input: NodeInput | ReplicaInput,
  slot: NodeSlot,
  poolDefaults: PoolSettings,
  types: pg.CustomTypesConfig | undefined,
): NodeSpec & { readonly password: string | undefined } {
  const { role, option, fallbackName } = slot
  if (isPool(input)) {
    if (!(input instanceof pg.Pool)) warnForeignPg(option)
    // pg-pool hides the password as non-enumerable: copy it explicitly for the probe connection.
    const options = input.options as pg.PoolConfig
    checkTimers(options, option)
    const connection = { ...options, password: options.password }
    return {
      name: displayName(options, fallbackName),
      role,
      weight: 1,
      connection,
      pool: input,
      ownsPool: false,
      password: passwordOf(options),
    }
  }
  let config: pg.PoolConfig & { name?: unknown; weight?: unknown; zone?: unknown; pool?: unknown }
  if (typeof input === 'string') {
    if (input.trim() === '') throw new ConfigError(option, 'expected a non-empty connection string')
    config = { connectionString: input }
  } else if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    config = input as typeof config
  } else {
    throw new ConfigError(
      option,
      `expected a connection string, a pg.PoolConfig or a pg.Pool, got ${typeof input}`,
    )
  }
  const { name, weight = 1, zone: zoneInput, pool, ...poolConfig } = config
  const zone = zoneOf(zoneInput, `${option}.zone`)
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new ConfigError(`${option}.name`, 'expected a non-empty string')
  }
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new ConfigError(`${option}.weight`, `expected a positive finite number, got ${String(weight)}`)
  }
  if (option === 'primary' && config.weight !== undefined) {
    throw new ConfigError(`${option}.weight`, 'weights apply to replicas only')
  }
  if (pool !== undefined) {
    if (!isPool(pool)) throw new ConfigError(`${option}.pool`, 'expected a pg.Pool')
    const base = toNodeSpec(pool, { ...slot, option: `${option}.pool` }, poolDefaults, types)
    return { ...base, name: (name as string | undefined) ?? base.name, weight, zone }
  }
  if (config.connectionString !== undefined && typeof config.connectionString !== 'string') {
    throw new ConfigError(`${option}.connectionString`, 'expected a string')
  }
  checkTimers(poolConfig, option)
  const merged: pg.PoolConfig = {
    max: poolDefaults.max,
    idleTimeoutMillis: poolDefaults.idleTimeoutMs,
    connectionTimeoutMillis: poolDefaults.connectionTimeoutMs,
    ...(types === undefined ? {} : { types }),
    ...poolConfig,
  }
  // The router's own connections read positions and flags pg's default parsers know: not the application's types.
  const { types: _applicationTypes, ...connection } = merged
  const spec = {
    name: (name as string | undefined) ?? displayName(merged, fallbackName),
    role,
    weight,
    zone,
    connection,
    pool: new pg.Pool(merged),
    ownsPool: true,
    password: passwordOf(merged),
  }
  return spec
}

/**
 * One node input per host: a multi-host connection string (as a string, or as the `connectionString` of a
 * config) becomes one input per host, sharing everything else; any other input is returned as it is. Names given
 * in a config are suffixed `-1`, `-2`, … per host.
 */
export function expandHosts(
  input: NodeInput | ReplicaInput,
  option: string,
): Array<NodeInput | ReplicaInput> {
  if (typeof input === 'string') return splitHosts(input, option) ?? [input]
  if (typeof input !== 'object' || input === null || isPool(input)) return [input]
  const config = input as pg.PoolConfig & { name?: unknown; zone?: unknown; pool?: unknown }
  if (typeof config.connectionString !== 'string' || config.pool !== undefined) return [input]
  const urls = splitHosts(config.connectionString, `${option}.connectionString`)
  if (urls === undefined) return [input]
  if (config.zone !== undefined) {
    // The hosts of one string are usually spread over zones on purpose: one zone for all of them would be wrong.
    throw new ConfigError(
      `${option}.zone`,
      'a multi-host connection string names several servers, each in its own zone: give each host its own entry with its zone',
    )
  }
  const { name } = config
  return urls.map((connectionString, i) => ({
    ...config,
    connectionString,
    ...(typeof name === 'string' ? { name: `${name}-${i + 1}` } : {}),
  }))
}

/**
 * The specs of the nodes added at runtime by one `router.addNode` call: one per host of a multi-host URL (as
 * `createRouter` does), pool settings as the first node's pool has them, pg's `types` as the router was given them,
 * named `node-<n>` when the input names none (`count`: the nodes there are already).
 */
export function addedNodeSpecs(
  input: ReplicaInput,
  firstPool: pg.Pool,
  count: number,
  types: pg.CustomTypesConfig | undefined,
): Array<NodeSpec & { readonly password: string | undefined }> {
  const defaults = {
    max: firstPool.options.max ?? 10,
    idleTimeoutMs: firstPool.options.idleTimeoutMillis ?? 10_000,
    connectionTimeoutMs: firstPool.options.connectionTimeoutMillis ?? 5000,
  }
  return expandHosts(input, 'node').map((part, i) => {
    const slot = { role: 'replica', option: 'node', fallbackName: `node-${count + i + 1}` } as const
    return toNodeSpec(part as ReplicaInput, slot, defaults, types)
  })
}
