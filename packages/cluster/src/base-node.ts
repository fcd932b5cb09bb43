import { inspect } from 'node:util'
import type { QueryResult, QueryResultRow } from 'pg'
import { ClusterError } from './cluster-error.js'
import type { ClusterNode, NodeConnectionConfig, NodeRole, NodeStatus } from './cluster-node.js'
import type { NodeStopOptions } from './cluster-options.js'
import {
  type OccupiedConnections,
  type OccupyConnectionsOptions,
  occupyConnections,
} from './connection-hog.js'
import { type Duration, parseDuration } from './duration.js'
import { pollUntil } from './poll.js'
import { redactUrl } from './redact.js'
import type { WalSource } from './replication-options.js'
import { nodeStatus } from './replication-status.js'
import { queryOnce } from './sql-client.js'

/** Credentials shared by every node of a cluster. */
export interface Credentials {
  readonly user: string
  readonly password: string
  readonly database: string
  /** Query of the URLs (`sslmode=verify-full&sslrootcert=...` on a TLS cluster); absent for none. */
  readonly parameters?: string
}

/**
 * What every backend's nodes have in common: identity, URLs, `query()`, status, and replay pause/resume through
 * SQL. Control methods throw `PGROUTE_CLUSTER_NOT_SUPPORTED` unless a backend overrides them.
 */
export abstract class BaseNode implements ClusterNode {
  readonly name: string
  role: NodeRole
  /** The node this replica streams from (undefined for a primary). */
  upstream: BaseNode | undefined
  applyDelayMs = 0
  synchronous = false
  /** Replicas: streaming from {@link upstream}, or restoring from the cluster's WAL archive only. */
  walSource: WalSource = 'stream'
  /** Replicas: `recovery_target_timeline`. */
  recoveryTargetTimeline: 'latest' | 'current' = 'latest'
  replayPaused = false
  /** Set when the node's cluster was stopped: the node cannot be started again. */
  clusterStopped = false
  /** Primary: application names listed in its `synchronous_standby_names`. */
  synchronousStandbys: readonly string[] = []
  abstract readonly host: string
  abstract readonly port: number
  abstract readonly controllable: boolean
  protected readonly credentials: Credentials

  constructor(name: string, role: NodeRole, credentials: Credentials) {
    this.name = name
    this.role = role
    this.credentials = credentials
  }

  /** Replication slot of this node on its primary. */
  get slot(): string {
    return this.name.toLowerCase().replace(/[^a-z0-9_]/g, '_')
  }

  get url(): string {
    const { user, password, database, parameters } = this.credentials
    // No password (trust or cert authentication): none in the URL either.
    const auth = `${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}`
    const query = parameters ? `?${parameters}` : ''
    return `postgres://${auth}@${this.host}:${this.port}/${encodeURIComponent(database)}${query}`
  }

  get connectionConfig(): NodeConnectionConfig {
    const { user, password, database, parameters } = this.credentials
    const config = { host: this.host, port: this.port, user, password, database }
    // TLS settings live in the URL (pg reads the files it names).
    return parameters ? { ...config, connectionString: this.url } : config
  }

  get pid(): number | undefined {
    return undefined
  }

  get running(): boolean {
    return true
  }

  get dataDir(): string | undefined {
    return undefined
  }

  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return queryOnce<R>(this.connectionConfig, sql, params)
  }

  status(): Promise<NodeStatus> {
    return nodeStatus(this)
  }

  stop(_options?: NodeStopOptions): Promise<void> {
    return Promise.reject(this.notSupported('stop()'))
  }

  start(): Promise<void> {
    return Promise.reject(this.notSupported('start()'))
  }

  async restart(options?: NodeStopOptions): Promise<void> {
    await this.stop(options)
    await this.start()
  }

  get hung(): boolean {
    return false
  }

  hang(): Promise<void> {
    return Promise.reject(this.notSupported('hang()'))
  }

  async resume(): Promise<void> {
    // Nothing is frozen on a backend that cannot freeze.
  }

  kill(): Promise<void> {
    return Promise.reject(this.notSupported('kill()'))
  }

  startStandalone(): Promise<void> {
    return Promise.reject(this.notSupported('startStandalone()'))
  }

  /**
   * Replaces this stopped node's data with an online base backup of the running `primary` and starts it as a
   * standby of it; see `cluster.rejoin()`, which prepares the slot and the node's state first.
   */
  reseed(_primary: BaseNode): Promise<void> {
    return Promise.reject(this.notSupported('rejoin()'))
  }

  async occupyConnections(options?: OccupyConnectionsOptions): Promise<OccupiedConnections> {
    if (!this.controllable) throw this.notSupported('occupyConnections()')
    if (!this.running) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `occupyConnections(): ${this.name} is not running`,
        { node: this.name },
      )
    }
    return occupyConnections(this.connectionConfig, this.name, options)
  }

  async pauseReplay(): Promise<void> {
    this.assertRunningReplica('pauseReplay()')
    await this.query('SELECT pg_wal_replay_pause()')
    this.replayPaused = true
  }

  async resumeReplay(): Promise<void> {
    this.assertRunningReplica('resumeReplay()')
    await this.query('SELECT pg_wal_replay_resume()')
    this.replayPaused = false
  }

  async setApplyDelay(delay: Duration): Promise<void> {
    this.assertRunningReplica('setApplyDelay()')
    const ms = parseDuration(delay, 'delay')
    this.applyDelayMs = ms
    await this.reconfigure()
    // New connections see the setting once the postmaster has processed the reload.
    await pollUntil(
      async () => {
        const { rows } = await this.query<{ setting: string }>(
          `SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'`,
        )
        return Number(rows[0]?.setting) === ms
      },
      {
        timeoutMs: 10_000,
        node: this.name,
        describe: () => `${this.name} did not apply recovery_min_apply_delay`,
      },
    )
  }

  /** Where replicas connect to stream from this node (differs from host/port inside a Docker network). */
  get replicationAddress(): { readonly host: string; readonly port: number } {
    return { host: this.host, port: this.port }
  }

  /**
   * Applies the node's current role, upstream, apply delay and synchronous standbys to the server configuration
   * and reloads it (takes effect at the next start if the node is stopped).
   */
  reconfigure(): Promise<void> {
    return Promise.reject(this.notSupported('reconfigure()'))
  }

  /** What `console.log(node)` and `JSON.stringify(node)` show: never the password. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, role: this.role, host: this.host, port: this.port, url: redactUrl(this.url) }
  }

  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON())}`
  }

  /** The error for a control method this node does not support. */
  protected notSupported(method: string): ClusterError {
    const why = this.controllable ? `the ${this.constructor.name} backend` : 'an external cluster'
    return new ClusterError('PGROUTE_CLUSTER_NOT_SUPPORTED', `${method} is not supported on ${why}`, {
      node: this.name,
    })
  }

  /** Throws once the node's cluster was stopped (its data may be gone). */
  protected assertClusterOpen(method: string): void {
    if (this.clusterStopped) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `${method}: the cluster of ${this.name} was stopped`,
        {
          node: this.name,
        },
      )
    }
  }

  /** Throws unless this node may be controlled and is a running replica. */
  protected assertRunningReplica(method: string): void {
    if (!this.controllable) throw this.notSupported(method)
    if (this.role !== 'replica') {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `${method} needs a replica; ${this.name} is ${this.role}`,
        {
          node: this.name,
        },
      )
    }
    if (!this.running) {
      throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `${method}: ${this.name} is not running`, {
        node: this.name,
      })
    }
  }
}
