import { inspect } from 'node:util'
import type { BaseNode } from './base-node.js'
import { ClusterError, invalidOption } from './cluster-error.js'
import type { Cluster, ClusterNode, ClusterStatus } from './cluster-node.js'
import type {
  ClusterBackend,
  ClusterStopOptions,
  PromoteOptions,
  WaitForReplicationOptions,
} from './cluster-options.js'
import { nodesStatus, waitForReplay, waitForStreaming } from './replication-status.js'
import { streamsLiveFrom } from './replication-topology.js'

const defaultTimeoutMs = 60_000

/**
 * Topology bookkeeping and the orchestration every backend shares: promotion, re-pointing replicas, waiting for
 * replication and status. Backends provide the nodes and how to stop them.
 */
export abstract class BaseCluster implements Cluster {
  abstract readonly backend: ClusterBackend | 'external'
  readonly user: string
  readonly database: string
  protected readonly nodeList: readonly BaseNode[]
  #primary: BaseNode
  #stopping: Promise<void> | undefined

  constructor(nodes: readonly BaseNode[], credentials: { user: string; database: string }) {
    const primary = nodes.find((node) => node.role === 'primary')
    if (!primary) throw new Error('A cluster needs a primary node')
    this.nodeList = nodes
    this.#primary = primary
    this.user = credentials.user
    this.database = credentials.database
  }

  get controllable(): boolean {
    return this.#primary.controllable
  }

  get primary(): BaseNode {
    return this.#primary
  }

  get replicas(): readonly BaseNode[] {
    return this.nodeList.filter((node) => node.role === 'replica')
  }

  get nodes(): readonly BaseNode[] {
    return this.nodeList
  }

  get dataDir(): string | undefined {
    return undefined
  }

  get archiveDir(): string | undefined {
    return undefined
  }

  get stopped(): boolean {
    return this.#stopping !== undefined
  }

  node(name: string): BaseNode {
    const found = this.nodeList.find((node) => node.name === name)
    if (!found) {
      const names = this.nodeList.map((node) => node.name).join(', ')
      throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `No node named '${name}' (nodes: ${names})`)
    }
    return found
  }

  async promote(target: ClusterNode | string, options: PromoteOptions = {}): Promise<void> {
    const replica = this.#controlledNode(target, 'promote()')
    if (replica.role !== 'replica' || !replica.running) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `promote() needs a running replica; ${replica.name} is ${replica.running ? replica.role : 'stopped'}`,
        { node: replica.name },
      )
    }
    const timeoutMs = timeoutOption(options.timeoutMs, 'timeoutMs')
    const previous = this.#primary
    if ((options.stopOldPrimary ?? true) && previous.running) await previous.stop({ mode: 'fast' })
    const { rows } = await replica.query<{ promoted: boolean }>('SELECT pg_promote(true, $1) AS promoted', [
      Math.max(1, Math.ceil(timeoutMs / 1000)),
    ])
    if (!rows[0]?.promoted) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_TIMEOUT',
        `${replica.name} was not promoted within ${timeoutMs} ms`,
        {
          node: replica.name,
        },
      )
    }
    previous.role = 'former-primary'
    previous.synchronousStandbys = []
    replica.role = 'primary'
    replica.upstream = undefined
    replica.walSource = 'stream'
    replica.replayPaused = false
    replica.applyDelayMs = 0
    replica.synchronous = false
    this.#primary = replica
    await replica.reconfigure()
    if (options.follow ?? true) {
      // Cascading replicas keep their upstream and archive-fed ones their archive: both follow the new timeline.
      for (const other of this.replicas) {
        if (other.upstream === previous) await this.followPrimary(other, { timeoutMs })
      }
    }
  }

  async followPrimary(
    target: ClusterNode | string,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<void> {
    const replica = this.#controlledNode(target, 'followPrimary()')
    const primary = this.#primary
    if (replica.role !== 'replica') {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `${replica.name} is ${replica.role}, not a replica`,
        {
          node: replica.name,
        },
      )
    }
    if (!primary.running) {
      throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `The primary ${primary.name} is not running`, {
        node: primary.name,
      })
    }
    await primary.query(
      `SELECT pg_create_physical_replication_slot($1, true)
       WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`,
      [replica.slot],
    )
    replica.upstream = primary
    replica.walSource = 'stream'
    await replica.reconfigure()
    if (replica.running && !replica.replayPaused) {
      await waitForStreaming(primary, [replica.name], {
        timeoutMs: timeoutOption(options.timeoutMs, 'timeoutMs'),
      })
    }
    await this.#updateSynchronousStandbys()
  }

  async rejoin(target: ClusterNode | string, options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const node = this.#controlledNode(target, 'rejoin()')
    const primary = this.#primary
    const timeoutMs = timeoutOption(options.timeoutMs, 'timeoutMs')
    if (node === primary || !primary.running) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        node === primary
          ? `rejoin() needs a node other than the primary; ${node.name} is the primary`
          : `rejoin(): the primary ${primary.name} is not running`,
        { node: node.name },
      )
    }
    if (node.dataDir === undefined || primary.dataDir === undefined) {
      // Checked before anything changes: only local data directories can be re-seeded by copying.
      throw new ClusterError(
        'PGROUTE_CLUSTER_NOT_SUPPORTED',
        `rejoin() is not supported on the ${this.backend} backend`,
        {
          node: node.name,
        },
      )
    }
    await node.stop({ mode: 'fast' })
    // Created first, so that the primary keeps every WAL segment the backup will need.
    await primary.query(
      `SELECT pg_create_physical_replication_slot($1, true)
       WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`,
      [node.slot],
    )
    node.role = 'replica'
    node.upstream = primary
    node.walSource = 'stream'
    node.synchronousStandbys = []
    node.replayPaused = false
    await node.reseed(primary)
    await waitForStreaming(primary, [node.name], { timeoutMs })
    await this.#updateSynchronousStandbys()
  }

  async waitForReplication(options: WaitForReplicationOptions = {}): Promise<void> {
    this.#assertOpen('waitForReplication()')
    const primary = this.#primary
    const replicas =
      options.replicas?.map((replica) => this.#own(replica)) ??
      this.replicas.filter((node) => streamsLiveFrom(primary, node))
    // An archive-fed replica only gets a WAL segment once it is archived: close the current one.
    if (replicas.some((node) => node.walSource === 'archive')) await primary.query('SELECT pg_switch_wal()')
    await waitForReplay(primary, replicas, {
      timeoutMs: timeoutOption(options.timeoutMs ?? 30_000, 'timeoutMs'),
      signal: options.signal,
    })
  }

  async status(): Promise<ClusterStatus> {
    return { backend: this.backend, nodes: await nodesStatus(this.#primary, this.nodeList) }
  }

  stop(options: ClusterStopOptions = {}): Promise<void> {
    for (const node of this.nodeList) node.clusterStopped = true
    this.#stopping ??= this.stopNodes(options)
    return this.#stopping
  }

  /** Stops every node and releases the backend's resources; called once by {@link stop}. */
  protected abstract stopNodes(options: ClusterStopOptions): Promise<void>

  /** What `console.log(cluster)` shows: never the password. */
  toJSON(): Record<string, unknown> {
    return {
      backend: this.backend,
      primary: this.#primary.toJSON(),
      replicas: this.replicas.map((r) => r.toJSON()),
    }
  }

  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), { depth: 3 })}`
  }

  async #updateSynchronousStandbys() {
    const primary = this.#primary
    const names = this.replicas
      .filter((replica) => replica.synchronous && replica.upstream === primary)
      .map((replica) => replica.name)
    if (names.join() === primary.synchronousStandbys.join()) return
    primary.synchronousStandbys = names
    await primary.reconfigure()
  }

  #assertOpen(method: string) {
    if (this.stopped)
      throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `${method}: the cluster was stopped`)
  }

  #controlledNode(target: ClusterNode | string, method: string): BaseNode {
    this.#assertOpen(method)
    if (!this.controllable) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_NOT_SUPPORTED',
        `${method} is not supported on an external cluster`,
      )
    }
    return typeof target === 'string' ? this.node(target) : this.#own(target)
  }

  #own(node: ClusterNode): BaseNode {
    const own = this.nodeList.find((candidate) => candidate === node)
    if (!own)
      throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `${node.name} is not a node of this cluster`)
    return own
  }
}

function timeoutOption(value: number | undefined, option: string): number {
  if (value === undefined) return defaultTimeoutMs
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidOption(option, `expected a positive number of milliseconds, got ${String(value)}`)
  }
  return value
}
