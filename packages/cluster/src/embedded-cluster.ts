import { rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { BaseCluster } from './base-cluster.js'
import { resolveBinaries } from './binaries-resolver.js'
import { storedPassword, tlsSettings, tlsUrlParameters, usesPassword, writeHbaConf } from './client-auth.js'
import type { ClusterStopOptions } from './cluster-options.js'
import { EmbeddedNode, type EmbeddedNodeContext } from './embedded-node.js'
import { findFreePort } from './free-port.js'
import { type OrphanWatchdog, startOrphanWatchdog } from './orphan-watchdog.js'
import { throwIfAborted } from './poll.js'
import { trackForCleanup } from './process-cleanup.js'
import { createRedactor } from './redact.js'
import { startReplicationTopology } from './replication-topology.js'
import type { ResolvedClusterOptions } from './resolve-options.js'
import { clusterSettings, writeSettings } from './server-config.js'
import { assertReachable, serverUser } from './server-user.js'
import { clusterConfFile, createDataDir } from './template-cache.js'
import { createTlsFiles } from './tls-certificates.js'
import { runTool } from './tool-runner.js'
import { copyTree } from './tree-copy.js'
import { WalArchive } from './wal-archive.js'

/** A cluster of local server processes; see `startCluster()`. */
export class EmbeddedCluster extends BaseCluster {
  readonly backend = 'embedded'
  readonly #root: string
  readonly #keep: boolean
  readonly #untrack: () => void
  readonly #watchdog: OrphanWatchdog
  /** Set once the WAL archive is prepared (when the `archive` option is on). */
  archive: WalArchive | undefined

  constructor(nodes: readonly EmbeddedNode[], root: string, options: ResolvedClusterOptions) {
    super(nodes, options)
    this.#root = root
    this.#keep = options.keep
    this.#untrack = trackForCleanup(this)
    this.#watchdog = startOrphanWatchdog(root, options.keep)
  }

  override get dataDir(): string {
    return this.#root
  }

  override get archiveDir(): string | undefined {
    return this.archive?.dir
  }

  protected override async stopNodes(options: ClusterStopOptions): Promise<void> {
    try {
      await Promise.all(this.nodeList.map((node) => node.stop(options)))
      if (!(options.keep ?? this.#keep)) await fs.rm(this.#root, { recursive: true, force: true })
    } finally {
      this.#untrack()
      await this.#watchdog.dismiss()
    }
  }

  /** Kills every server and removes the data synchronously; for process exit. */
  stopSync(): void {
    for (const node of this.nodeList as readonly EmbeddedNode[]) node.process?.stopSync()
    if (!this.#keep) rmSync(this.#root, { recursive: true, force: true })
    this.#watchdog.dismissSync()
  }
}

/**
 * Starts a primary and its replicas as local processes:
 * 1. a data directory for the primary (a copy of a cached initdb template),
 * 2. single-user mode on it: superuser password, database, one physical replication slot per replica,
 * 3. cold copies of the cleanly shut down primary become the replicas (standby.signal, primary_conninfo,
 *    primary_slot_name; the copied slots are dropped),
 * 4. all servers start at once; resolves when every replica streams.
 */
export async function startEmbeddedCluster(options: ResolvedClusterOptions): Promise<EmbeddedCluster> {
  const { signal, log } = options
  const started = Date.now()
  const user = serverUser()
  const binaries = await resolveBinaries(options.binDir, user)
  log({ source: 'cluster', message: `using ${binaries.version} from ${binaries.binDir}` })
  await fs.mkdir(options.baseDir, { recursive: true })
  assertReachable(options.baseDir, user, 'baseDir')
  const root = await fs.mkdtemp(path.join(options.baseDir, 'pgroute-cluster-'))
  if (user) await fs.chown(root, user.uid, user.gid)

  const redact = createRedactor(options.password)
  const nodes: EmbeddedNode[] = []
  const tlsFiles = options.tls ? await createTlsFiles(path.join(root, 'tls'), options.user, user) : undefined
  const context: EmbeddedNodeContext = {
    binDir: binaries.binDir,
    user,
    credentials: {
      user: options.user,
      password: usesPassword(options.auth) ? options.password : '',
      database: options.database,
      ...(tlsFiles ? { parameters: tlsUrlParameters(options.auth, tlsFiles) } : {}),
    },
    root,
    id: path.basename(root).slice('pgroute-cluster-'.length),
    startTimeoutMs: options.startTimeoutMs,
    log,
    redact,
    ports: new Set(),
    onPortChange: async (node) => {
      await Promise.all(nodes.filter((other) => other.upstream === node).map((other) => other.reconfigure()))
    },
    synchronousPolicy: {
      method: options.replication.synchronousMethod,
      count: options.replication.synchronousCount,
    },
  }
  const port = async () => {
    const chosen = await findFreePort(context.ports)
    context.ports.add(chosen)
    return chosen
  }
  const primary = new EmbeddedNode('primary', 'primary', await port(), context)
  nodes.push(primary)
  for (const replica of options.replicas) {
    const node = new EmbeddedNode(replica.name, 'replica', await port(), context)
    node.upstream =
      replica.source === 'archive'
        ? undefined
        : replica.upstream === undefined
          ? primary
          : nodes.find((other) => other.name === replica.upstream)
    node.walSource = replica.source
    node.recoveryTargetTimeline = replica.recoveryTargetTimeline
    node.applyDelayMs = replica.applyDelayMs
    node.synchronous = replica.synchronous
    nodes.push(node)
  }
  const cluster = new EmbeddedCluster(nodes, root, options)
  try {
    throwIfAborted(signal)
    await createDataDir(primary.dataDir, {
      binaries,
      user,
      superuser: options.user,
      timeoutMs: options.startTimeoutMs,
      redact,
    })
    log({ source: 'cluster', message: `primary data directory created after ${Date.now() - started} ms` })
    const { synchronousCommit, archive } = options.replication
    await writeHbaConf(primary.dataDir, options.auth, options.tls, user)
    const settings = clusterSettings(options.replicas.length, {
      ...(tlsFiles ? tlsSettings(tlsFiles) : {}),
      ...(synchronousCommit ? { synchronous_commit: synchronousCommit } : {}),
      ...options.postgresConfig,
    })
    await writeSettings(primary.dataDir, clusterConfFile, settings, user)
    if (archive) {
      context.archive = await WalArchive.prepare({
        archive,
        root,
        user,
        primaryDataDir: primary.dataDir,
        timeoutMs: options.startTimeoutMs,
        redact,
        log,
      })
      cluster.archive = context.archive
    }
    throwIfAborted(signal)
    await runTool('postgres', ['--single', '-D', primary.dataDir, '-c', 'exit_on_error=on', 'postgres'], {
      binDir: binaries.binDir,
      user,
      cwd: primary.dataDir,
      input: setupSql(options),
      timeoutMs: options.startTimeoutMs,
      description: 'Primary set-up (single-user mode)',
      redact,
    })
    log({ source: 'cluster', message: `primary set up after ${Date.now() - started} ms` })
    throwIfAborted(signal)
    await Promise.all(
      nodes.slice(1).map(async (replica) => {
        await copyTree(primary.dataDir, replica.dataDir, {
          emptyDirs: ['pg_replslot'],
          ...(user ? { owner: user } : {}),
        })
        await fs.writeFile(path.join(replica.dataDir, 'standby.signal'), '', { mode: 0o600 })
        if (user) await fs.chown(path.join(replica.dataDir, 'standby.signal'), user.uid, user.gid)
      }),
    )
    primary.synchronousStandbys = options.replicas.filter((r) => r.synchronous).map((r) => r.name)
    log({ source: 'cluster', message: `data directories ready after ${Date.now() - started} ms` })
    throwIfAborted(signal)
    await startReplicationTopology(primary, nodes.slice(1), { timeoutMs: options.startTimeoutMs, signal })
    log({ source: 'cluster', message: `cluster streaming after ${Date.now() - started} ms` })
    return cluster
  } catch (error) {
    await cluster.stop({ mode: 'immediate' })
    throw error
  }
}

/**
 * Statements run in single-user mode (one per line). The password is set as a SCRAM verifier (an MD5 hash for `md5`
 * authentication), never in clear.
 */
function setupSql(options: ResolvedClusterOptions): string {
  const stored = storedPassword(options.auth, options.user, options.password)
  const lines = [`ALTER ROLE "${options.user}" PASSWORD '${stored}';`]
  if (options.database !== 'postgres') lines.push(`CREATE DATABASE "${options.database}";`)
  // Cascading replicas get their slot on their upstream, archive-fed ones none (an unused slot would hold WAL).
  for (const replica of options.replicas) {
    if (replica.upstream !== undefined || replica.source === 'archive') continue
    lines.push(`SELECT pg_create_physical_replication_slot('${replica.slot}', true);`)
  }
  return lines.join('\n') + '\n'
}
