import path from 'node:path'
import { invalidOption } from './cluster-error.js'
import type { ClusterBackend } from './cluster-options.js'
import { parseDuration } from './duration.js'
import type {
  ArchiveTool,
  ReplicaTopologyOptions,
  ReplicationModeOptions,
  SynchronousCommit,
  SynchronousMethod,
  WalSource,
} from './replication-options.js'

/** {@link ReplicaTopologyOptions} after validation. */
export interface ResolvedTopology {
  /** Name of the replica this one streams from; `undefined`: the primary (or none, for an archive-fed replica). */
  readonly upstream: string | undefined
  readonly source: WalSource
  readonly recoveryTargetTimeline: 'latest' | 'current'
}

/** WAL archiving after validation. */
export interface ResolvedArchive {
  /** Absolute directory, or `undefined` for `wal-archive` inside the cluster's directory. */
  readonly dir: string | undefined
  readonly tool: ArchiveTool
  /** `archive_timeout` in seconds (0: off). */
  readonly timeoutSeconds: number
}

/** {@link ReplicationModeOptions} after validation, with defaults applied. */
export interface ResolvedReplication {
  /** `undefined`: left to `postgresConfig` or the cluster default (`on`). */
  readonly synchronousCommit: SynchronousCommit | undefined
  readonly synchronousMethod: SynchronousMethod
  /** The `n` of `FIRST n` / `ANY n` (0 without synchronous replicas). */
  readonly synchronousCount: number
  readonly archive: ResolvedArchive | undefined
}

const commitValues: readonly SynchronousCommit[] = ['off', 'local', 'remote_write', 'on', 'remote_apply']
const tools: readonly ArchiveTool[] = ['copy', 'pgbackrest']
/** Settings the `archive` option writes itself. */
const archiveSettings = [
  'archive_mode',
  'archive_command',
  'archive_library',
  'archive_timeout',
  'restore_command',
]
/** Characters that would break out of the quoted paths in `archive_command` / `restore_command`. */
const unsafePathCharacters = /['"%\\\n\r$`]/

/**
 * Validates one replica's topology options. `earlier` holds the names of the replicas listed before it (the only
 * ones it may cascade from, so that the topology has no cycles).
 */
export function resolveReplicaTopology(
  given: ReplicaTopologyOptions,
  at: string,
  earlier: readonly string[],
): ResolvedTopology {
  const source = given.source ?? 'stream'
  if (source !== 'stream' && source !== 'archive') {
    throw invalidOption(`${at}.source`, `expected 'stream' or 'archive', got ${JSON.stringify(source)}`)
  }
  const target = given.recoveryTargetTimeline ?? 'latest'
  if (target !== 'latest' && target !== 'current') {
    throw invalidOption(
      `${at}.recoveryTargetTimeline`,
      `expected 'latest' or 'current', got ${JSON.stringify(target)}`,
    )
  }
  const upstream = given.upstream ?? 'primary'
  if (typeof upstream !== 'string') throw invalidOption(`${at}.upstream`, 'expected a node name')
  if (upstream !== 'primary') {
    if (source === 'archive') {
      throw invalidOption(`${at}.upstream`, "an archive-fed replica (source 'archive') streams from no node")
    }
    if (!earlier.includes(upstream)) {
      throw invalidOption(
        `${at}.upstream`,
        `expected 'primary' or the name of a replica listed before it (${earlier.join(', ') || 'none'}), got ${JSON.stringify(upstream)}`,
      )
    }
  }
  return {
    upstream: upstream === 'primary' ? undefined : upstream,
    source,
    recoveryTargetTimeline: target,
  }
}

/** What {@link resolveReplication} needs to know of each replica. */
interface ReplicaFacts extends ResolvedTopology {
  readonly synchronous: boolean
}

/** Validates the cluster-wide replication options against the replicas and the backend. */
export function resolveReplication(
  options: ReplicationModeOptions,
  replicas: readonly ReplicaFacts[],
  backend: ClusterBackend,
  postgresConfig: Readonly<Record<string, string>>,
): ResolvedReplication {
  replicas.forEach((replica, index) => {
    const at = `replicaOptions[${index}]`
    if (replica.synchronous && (replica.upstream !== undefined || replica.source === 'archive')) {
      throw invalidOption(
        `${at}.synchronous`,
        'only a replica streaming from the primary can be synchronous (not a cascading or archive-fed one)',
      )
    }
    if (backend !== 'embedded' && (replica.upstream !== undefined || replica.source === 'archive')) {
      throw invalidOption(
        `${at}.${replica.upstream !== undefined ? 'upstream' : 'source'}`,
        'needs the embedded backend',
      )
    }
    if (backend !== 'embedded' && replica.recoveryTargetTimeline !== 'latest') {
      throw invalidOption(`${at}.recoveryTargetTimeline`, 'needs the embedded backend')
    }
  })

  const synchronousCommit = options.synchronousCommit
  if (synchronousCommit !== undefined) {
    if (!commitValues.includes(synchronousCommit)) {
      throw invalidOption(
        'synchronousCommit',
        `expected one of ${commitValues.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(synchronousCommit)}`,
      )
    }
    if (Object.keys(postgresConfig).some((name) => name.toLowerCase() === 'synchronous_commit')) {
      throw invalidOption('synchronousCommit', 'is also set as postgresConfig.synchronous_commit; set one')
    }
  }

  const synchronous = replicas.filter((replica) => replica.synchronous).length
  const method = options.synchronousMethod ?? 'first'
  if (method !== 'first' && method !== 'any') {
    throw invalidOption('synchronousMethod', `expected 'first' or 'any', got ${JSON.stringify(method)}`)
  }
  if (options.synchronousMethod !== undefined && synchronous === 0) {
    throw invalidOption('synchronousMethod', 'needs at least one replica with `synchronous: true`')
  }
  const count = options.synchronousCount ?? synchronous
  if (options.synchronousCount !== undefined) {
    if (synchronous === 0) {
      throw invalidOption('synchronousCount', 'needs at least one replica with `synchronous: true`')
    }
    if (!Number.isInteger(count) || count < 1 || count > synchronous) {
      throw invalidOption(
        'synchronousCount',
        `expected an integer from 1 to ${synchronous} (the replicas marked synchronous), got ${String(count)}`,
      )
    }
  }
  if (backend !== 'embedded' && (method !== 'first' || count !== synchronous)) {
    throw invalidOption(
      options.synchronousMethod !== undefined ? 'synchronousMethod' : 'synchronousCount',
      'needs the embedded backend',
    )
  }

  const archive = resolveArchive(options.archive, backend)
  const clash = Object.keys(postgresConfig).find((name) => archiveSettings.includes(name.toLowerCase()))
  if (archive && clash) throw invalidOption(`postgresConfig.${clash}`, 'is managed by the option `archive`')
  const archiveFed = replicas.findIndex((replica) => replica.source === 'archive')
  if (archiveFed >= 0 && !archive) {
    throw invalidOption(
      `replicaOptions[${archiveFed}].source`,
      "'archive' needs the cluster option `archive`",
    )
  }
  return { synchronousCommit, synchronousMethod: method, synchronousCount: count, archive }
}

function resolveArchive(value: ReplicationModeOptions['archive'], backend: ClusterBackend) {
  if (value === undefined || value === false) return undefined
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption('archive', 'expected true, false or an object')
  }
  if (backend !== 'embedded') throw invalidOption('archive', 'needs the embedded backend')
  const given = value === true ? {} : value
  const tool = given.tool ?? 'copy'
  if (!tools.includes(tool)) {
    throw invalidOption('archive.tool', `expected 'copy' or 'pgbackrest', got ${JSON.stringify(tool)}`)
  }
  let dir: string | undefined
  if (given.dir !== undefined) {
    if (typeof given.dir !== 'string' || given.dir.length === 0) {
      throw invalidOption('archive.dir', 'expected a non-empty path')
    }
    dir = path.resolve(given.dir)
    assertSafePath(dir, 'archive.dir')
  }
  const timeoutMs = parseDuration(given.timeout ?? '1s', 'archive.timeout')
  return { dir, tool, timeoutSeconds: Math.ceil(timeoutMs / 1000) }
}

/** Throws unless `dir` can be quoted safely inside `archive_command` and `restore_command`. */
export function assertSafePath(dir: string, option: string): void {
  if (unsafePathCharacters.test(dir)) {
    throw invalidOption(option, `${JSON.stringify(dir)} contains a quote, %, $, \` or backslash`)
  }
}
