import { randomBytes } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { type AuthMethod, authMethods } from './client-auth.js'
import { invalidOption } from './cluster-error.js'
import type { ClusterBackend, ClusterLogEntry, StartClusterOptions } from './cluster-options.js'
import { parseDuration } from './duration.js'
import { createRedactor } from './redact.js'
import {
  type ResolvedReplication,
  type ResolvedTopology,
  resolveReplicaTopology,
  resolveReplication,
} from './resolve-replication.js'

/** A replica's settings after defaults were applied. */
export interface ResolvedReplica extends ResolvedTopology {
  readonly name: string
  /** Replication slot on the primary (the name with `-` turned into `_`). */
  readonly slot: string
  readonly applyDelayMs: number
  readonly synchronous: boolean
}

/** {@link StartClusterOptions} after validation, with every default applied. */
export interface ResolvedClusterOptions {
  readonly replicas: readonly ResolvedReplica[]
  readonly backend: ClusterBackend
  readonly binDir: string | undefined
  readonly baseDir: string
  readonly keep: boolean
  readonly database: string
  readonly user: string
  readonly password: string
  readonly postgresConfig: Readonly<Record<string, string>>
  readonly startTimeoutMs: number
  readonly signal: AbortSignal | undefined
  /** Logs with the password masked; a no-op when logging is off. */
  readonly log: (entry: ClusterLogEntry) => void
  readonly image: string
  /** Synchronous standbys, `synchronous_commit` and WAL archiving. */
  readonly replication: ResolvedReplication
  readonly auth: AuthMethod
  readonly tls: boolean
}

const maxReplicas = 32
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/
const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/
const settingPattern = /^[A-Za-z_][A-Za-z0-9_.]*$/
/** Settings the cluster manages itself; overriding them would break replication or the URLs. */
const managedSettings = new Set([
  'port',
  'listen_addresses',
  'unix_socket_directories',
  'primary_conninfo',
  'primary_slot_name',
  'recovery_min_apply_delay',
  'synchronous_standby_names',
  'hot_standby',
  'cluster_name',
])

/** Validates `options` up front and applies the defaults, throwing a `ClusterError` naming the first bad option. */
export function resolveClusterOptions(options: StartClusterOptions = {}): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'expected an object')
  const replicaOptions = options.replicaOptions ?? []
  if (!Array.isArray(replicaOptions)) throw invalidOption('replicaOptions', 'expected an array')
  const count = options.replicas ?? Math.max(1, replicaOptions.length)
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > maxReplicas) {
    throw invalidOption('replicas', `expected an integer from 0 to ${maxReplicas}, got ${String(count)}`)
  }
  if (replicaOptions.length > count) {
    throw invalidOption('replicaOptions', `has ${replicaOptions.length} entries but \`replicas\` is ${count}`)
  }
  const replicas: ResolvedReplica[] = []
  for (let index = 0; index < count; index++) {
    const given = replicaOptions[index] ?? {}
    const at = `replicaOptions[${index}]`
    if (typeof given !== 'object' || given === null) throw invalidOption(at, 'expected an object')
    const name = given.name ?? `replica-${index + 1}`
    if (typeof name !== 'string' || !namePattern.test(name) || name === 'primary') {
      throw invalidOption(`${at}.name`, `expected up to 40 letters, digits, '_' or '-' other than 'primary'`)
    }
    if (replicas.some((replica) => replica.name === name || replica.slot === slotName(name))) {
      throw invalidOption(`${at}.name`, `'${name}' is used by another replica`)
    }
    const synchronous = given.synchronous ?? false
    if (typeof synchronous !== 'boolean') throw invalidOption(`${at}.synchronous`, 'expected a boolean')
    const applyDelayMs = parseDuration(given.applyDelay ?? 0, `${at}.applyDelay`)
    const topology = resolveReplicaTopology(
      given,
      at,
      replicas.map((replica) => replica.name),
    )
    replicas.push({ name, slot: slotName(name), applyDelayMs, synchronous, ...topology })
  }

  const backend = options.backend ?? 'embedded'
  if (backend !== 'embedded' && backend !== 'docker') {
    throw invalidOption('backend', `expected 'embedded' or 'docker', got ${JSON.stringify(backend)}`)
  }
  const password = options.password ?? randomBytes(18).toString('base64url')
  if (typeof password !== 'string' || password.length === 0 || password.includes('\0')) {
    throw invalidOption('password', 'expected a non-empty string without NUL characters')
  }
  const startTimeoutMs = options.startTimeoutMs ?? 60_000
  if (typeof startTimeoutMs !== 'number' || !Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    throw invalidOption(
      'startTimeoutMs',
      `expected a positive number of milliseconds, got ${String(startTimeoutMs)}`,
    )
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalidOption('signal', 'expected an AbortSignal')
  }
  const logger = options.log ?? false
  if (logger !== false && typeof logger !== 'function')
    throw invalidOption('log', 'expected a function or false')
  const redact = createRedactor(password)
  const auth = options.auth ?? 'scram-sha-256'
  if (!authMethods.includes(auth)) {
    throw invalidOption('auth', `expected one of ${authMethods.join(', ')}, got ${JSON.stringify(auth)}`)
  }
  const tls = booleanOption(options.tls, 'tls') || auth === 'cert'
  if (backend === 'docker' && (auth !== 'scram-sha-256' || tls)) {
    throw invalidOption(options.tls ? 'tls' : 'auth', 'is supported by the embedded backend only')
  }
  const postgresConfig = resolvePostgresConfig(options.postgresConfig)

  return {
    replicas,
    backend,
    binDir: optionalPath(options.binDir, 'binDir'),
    baseDir: optionalPath(options.baseDir, 'baseDir') ?? os.tmpdir(),
    keep: booleanOption(options.keep, 'keep'),
    database: identifier(options.database ?? 'postgres', 'database'),
    user: identifier(options.user ?? 'postgres', 'user'),
    password,
    postgresConfig,
    startTimeoutMs,
    signal: options.signal,
    log: logger === false ? () => {} : (entry) => logger({ ...entry, message: redact(entry.message) }),
    image: nonEmptyString(options.image ?? 'postgres:18-alpine', 'image'),
    replication: resolveReplication(options, replicas, backend, postgresConfig),
    auth,
    tls,
  }
}

/** The replication slot name of a replica: slot names allow only lower-case letters, digits and `_`. */
export function slotName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_]/g, '_')
}

function resolvePostgresConfig(config: StartClusterOptions['postgresConfig']): Record<string, string> {
  if (config === undefined) return {}
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalidOption('postgresConfig', 'expected an object of setting names to values')
  }
  const resolved: Record<string, string> = {}
  for (const [name, value] of Object.entries(config)) {
    const option = `postgresConfig.${name}`
    if (!settingPattern.test(name)) throw invalidOption(option, 'is not a valid setting name')
    if (managedSettings.has(name.toLowerCase())) throw invalidOption(option, 'is managed by the cluster')
    if (typeof value === 'boolean') resolved[name] = value ? 'on' : 'off'
    else if (typeof value === 'number' && Number.isFinite(value)) resolved[name] = String(value)
    else if (typeof value === 'string') resolved[name] = value
    else throw invalidOption(option, 'expected a string, a finite number or a boolean')
  }
  return resolved
}

function identifier(value: unknown, option: string): string {
  if (typeof value !== 'string' || !identifierPattern.test(value)) {
    throw invalidOption(option, 'expected a plain identifier (letters, digits and _, at most 63 characters)')
  }
  return value
}

function optionalPath(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined
  return path.resolve(nonEmptyString(value, option))
}

function nonEmptyString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw invalidOption(option, 'expected a non-empty string')
  return value
}

function booleanOption(value: unknown, option: string): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalidOption(option, 'expected a boolean')
  return value
}
