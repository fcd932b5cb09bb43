import fs from 'node:fs/promises'
import path from 'node:path'
import { BaseNode, type Credentials } from './base-node.js'
import { ClusterError, isClusterError } from './cluster-error.js'
import type { NodeRole } from './cluster-node.js'
import type { ClusterLogEntry, NodeStopOptions } from './cluster-options.js'
import { findFreePort, loopback } from './free-port.js'
import { copyRunningDataDir, writeOwned } from './online-backup.js'
import { PostgresProcess } from './postgres-process.js'
import { primarySettings, replicaSettings, writeSettings } from './server-config.js'
import type { ServerUser } from './server-user.js'
import { nodeConfFile } from './template-cache.js'
import type { WalArchive } from './wal-archive.js'

/** What an {@link EmbeddedNode} needs from its cluster. */
export interface EmbeddedNodeContext {
  readonly binDir: string
  readonly user: ServerUser | undefined
  readonly credentials: Credentials
  /** Directory holding the nodes' data directories. */
  readonly root: string
  /** Short id of the cluster, part of every server's `cluster_name` (and so of its process titles). */
  readonly id: string
  readonly startTimeoutMs: number
  readonly log: (entry: ClusterLogEntry) => void
  /** Masks the cluster password. */
  readonly redact: (text: string) => string
  /** Ports handed out to nodes of this cluster, so that two nodes never get the same one. */
  readonly ports: Set<number>
  /** Called when a restarted node had to move to another port (replicas must then follow the primary there). */
  readonly onPortChange: (node: EmbeddedNode) => Promise<void>
  /** `FIRST` or `ANY`, and how many standbys a commit waits for (see `synchronousMethod`/`synchronousCount`). */
  readonly synchronousPolicy?: { readonly method: 'first' | 'any'; readonly count: number }
  /** The cluster's WAL archive, when archiving is on (set once it is prepared, before any server starts). */
  archive?: WalArchive | undefined
}

const portAttempts = 5

/** A server run as a local process from the embedded (or a system) PostgreSQL installation. */
export class EmbeddedNode extends BaseNode {
  readonly host = loopback
  readonly controllable = true
  #port: number
  #process: PostgresProcess | undefined
  readonly #context: EmbeddedNodeContext

  constructor(name: string, role: NodeRole, port: number, context: EmbeddedNodeContext) {
    super(name, role, context.credentials)
    this.#port = port
    this.#context = context
  }

  get port(): number {
    return this.#port
  }

  override get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined
  }

  override get running(): boolean {
    return this.#process?.running ?? false
  }

  override get dataDir(): string {
    return path.join(this.#context.root, this.name)
  }

  /** The running postmaster, for the cluster's synchronous exit handler. */
  get process(): PostgresProcess | undefined {
    return this.#process
  }

  override async start(): Promise<void> {
    this.assertClusterOpen('start()')
    if (this.running) return
    for (let attempt = 1; ; attempt++) {
      await this.reconfigure()
      try {
        this.#process = await PostgresProcess.start({
          binDir: this.#context.binDir,
          dataDir: this.dataDir,
          name: this.name,
          user: this.#context.user,
          log: this.#context.log,
          redact: this.#context.redact,
          timeoutMs: this.#context.startTimeoutMs,
        })
        break
      } catch (error) {
        // Another process took the port between choosing it and binding it: choose again.
        if (
          !(
            attempt < portAttempts &&
            isClusterError(error) &&
            error.message.includes('Address already in use')
          )
        ) {
          throw error
        }
        this.#context.ports.delete(this.#port)
        this.#port = await findFreePort(this.#context.ports)
        this.#context.ports.add(this.#port)
        this.#context.log({
          source: 'cluster',
          node: this.name,
          message: `port taken, retrying on ${this.#port}`,
        })
        await this.#context.onPortChange(this)
      }
    }
    this.replayPaused = false // Pausing does not survive a restart.
    if (this.#context.archive && this.role !== 'replica') await wakeCheckpointer(this)
  }

  override async stop(options: NodeStopOptions = {}): Promise<void> {
    await this.#process?.stop(options.mode ?? 'fast')
  }

  override get hung(): boolean {
    return this.#process?.hung ?? false
  }

  override async hang(): Promise<void> {
    this.#assertRunning('hang()')
    await this.#process?.hang()
  }

  override async resume(): Promise<void> {
    this.#process?.resume()
  }

  override async kill(): Promise<void> {
    await this.#process?.kill()
  }

  override async startStandalone(): Promise<void> {
    this.assertClusterOpen('startStandalone()')
    if (this.role === 'primary' || this.running) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `startStandalone() needs a stopped node other than the primary; ${this.name} is ${this.running ? 'running' : 'the primary'}`,
        { node: this.name },
      )
    }
    await fs.rm(path.join(this.dataDir, 'standby.signal'), { force: true })
    this.role = 'standalone'
    this.upstream = undefined
    this.synchronousStandbys = []
    await this.start()
  }

  override async reseed(primary: BaseNode): Promise<void> {
    this.assertClusterOpen('rejoin()')
    if (this.running || !primary.dataDir) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `rejoin(): ${this.name} cannot be re-seeded now`,
        {
          node: this.name,
        },
      )
    }
    const { user } = this.#context
    await fs.rm(this.dataDir, { recursive: true, force: true })
    await copyRunningDataDir({
      source: primary.connectionConfig,
      sourceDir: primary.dataDir,
      targetDir: this.dataDir,
      owner: user,
      label: `pgroute rejoin ${this.name}`,
    })
    await writeOwned(path.join(this.dataDir, 'standby.signal'), '', user)
    await this.start()
  }

  #assertRunning(method: string) {
    if (!this.running) {
      throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `${method}: ${this.name} is not running`, {
        node: this.name,
      })
    }
  }

  /** Rewrites this node's configuration file from its current state and reloads a running server (SIGHUP). */
  override async reconfigure(): Promise<void> {
    const { credentials, id, user, archive, synchronousPolicy } = this.#context
    const clusterName = `pgroute-${id}-${this.name}`
    const upstream = this.upstream
    const archiveFed = this.role === 'replica' && this.walSource === 'archive' && archive !== undefined
    const settings = archiveFed
      ? {
          port: this.#port,
          cluster_name: clusterName,
          restore_command: archive.restoreCommand(this.dataDir),
          recovery_min_apply_delay: `${this.applyDelayMs}ms`,
          recovery_target_timeline: this.recoveryTargetTimeline,
        }
      : this.role === 'replica' && upstream
        ? replicaSettings({
            port: this.#port,
            clusterName,
            primaryPort: upstream.replicationAddress.port,
            user: credentials.user,
            password: credentials.password,
            applicationName: this.name,
            slot: this.slot,
            applyDelayMs: this.applyDelayMs,
            recoveryTargetTimeline: this.recoveryTargetTimeline,
          })
        : primarySettings({
            port: this.#port,
            clusterName,
            synchronous: [...this.synchronousStandbys],
            ...(synchronousPolicy
              ? { synchronousMethod: synchronousPolicy.method, synchronousCount: synchronousPolicy.count }
              : {}),
          })
    const archiving = archive?.settings(this.dataDir) ?? {}
    await writeSettings(this.dataDir, nodeConfFile, { ...settings, ...archiving }, user)
    this.#process?.reload()
  }
}

/**
 * The checkpointer computes its first sleep while the server is still starting up (in recovery), when
 * `archive_timeout` does not count: it then sleeps for up to `checkpoint_timeout` (5 min) before archive_timeout
 * closes a segment for the first time (seen on PostgreSQL 15 and 18). A checkpoint request wakes it, and from then
 * on it wakes every `archive_timeout`.
 */
async function wakeCheckpointer(node: EmbeddedNode): Promise<void> {
  await node.query('CHECKPOINT')
}
