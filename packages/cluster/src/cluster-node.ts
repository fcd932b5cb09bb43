import type { QueryResult, QueryResultRow } from 'pg'
import type {
  ClusterBackend,
  ClusterStopOptions,
  NodeStopOptions,
  PromoteOptions,
  WaitForReplicationOptions,
} from './cluster-options.js'
import type { OccupiedConnections, OccupyConnectionsOptions } from './connection-hog.js'
import type { Duration } from './duration.js'
import type { WalSource } from './replication-options.js'

/**
 * What a node currently is. `former-primary` is a primary that was replaced by `cluster.promote()`; it no longer
 * belongs to the replication topology (it may still be running if promoted with `stopOldPrimary: false`).
 * `standalone` is a node started read-write on its own by `node.startStandalone()`, outside the topology: writes
 * it takes exist nowhere else (a split brain). `cluster.rejoin()` makes either a replica again.
 */
export type NodeRole = 'primary' | 'replica' | 'former-primary' | 'standalone'

/** Connection settings of a node, shaped like `pg.ClientConfig` (pass it to `new pg.Client()` or `new pg.Pool()`). */
export interface NodeConnectionConfig {
  /** Host name or address. */
  readonly host: string
  /** TCP port. */
  readonly port: number
  /** Role to log in as (the cluster's superuser for local clusters). */
  readonly user: string
  /** Password of {@link user}. */
  readonly password: string
  /** Database name. */
  readonly database: string
  /** Set for external nodes, whose URL may carry further parameters (e.g. `sslmode`). */
  readonly connectionString?: string
}

/** Replication state of one node, as reported by `cluster.status()` (and printed by `pgroute-cluster status`). */
export interface NodeStatus {
  /** Node name, e.g. `replica-1`. */
  readonly name: string
  /** Role as the cluster tracks it (`inRecovery` is what the server itself says). */
  readonly role: NodeRole
  /** Host of the node. */
  readonly host: string
  /** TCP port of the node. */
  readonly port: number
  /** False when the node could not be queried (stopped, or unreachable); `error` then says why. */
  readonly reachable: boolean
  /** Result of `pg_is_in_recovery()`. */
  readonly inRecovery?: boolean
  /** Primary: `pg_current_wal_lsn()`. */
  readonly currentLsn?: string
  /** Replica: `pg_last_wal_receive_lsn()`. */
  readonly receiveLsn?: string
  /** Replica: `pg_last_wal_replay_lsn()`. */
  readonly replayLsn?: string
  /** Replica: replay paused by `pg_wal_replay_pause()`. */
  readonly replayPaused?: boolean
  /** Replica: bytes between the primary's current LSN and this replica's replay LSN. */
  readonly lagBytes?: number
  /**
   * Replica: seconds since the last replayed transaction committed on the primary, or 0 when everything received
   * has been replayed (absent when neither is known, e.g. nothing was replayed since the replica started).
   */
  readonly lagSeconds?: number
  /**
   * Replica streaming from the primary: its `sync_state` in the primary's `pg_stat_replication` (`sync` or
   * `quorum` when commits wait for it, `potential` when it would take over from a synchronous one, `async`).
   */
  readonly syncState?: 'sync' | 'quorum' | 'potential' | 'async'
  /** Replica streaming from the primary: its `sync_priority` there (0 for an asynchronous one). */
  readonly syncPriority?: number
  /** Why the node could not be queried (password masked). */
  readonly error?: string
}

/**
 * One PostgreSQL server of a {@link Cluster}. Control methods (`stop`, `start`, `pauseReplay`, ...) throw a
 * `ClusterError` with code `PGROUTE_CLUSTER_NOT_SUPPORTED` on an external cluster (see {@link controllable}).
 */
export interface ClusterNode {
  /** `primary`, `replica-1`, `replica-2`, ... (or the name given in `replicaOptions`). Never changes. */
  readonly name: string
  /** Current role; changes when a replica is promoted. */
  readonly role: NodeRole
  /** Host to connect to (`127.0.0.1` for the embedded backend). */
  readonly host: string
  /** TCP port. */
  readonly port: number
  /** `postgres://user:password@host:port/database`. The only place the password is shown. */
  readonly url: string
  /** Connection settings shaped like `pg.ClientConfig`. */
  readonly connectionConfig: NodeConnectionConfig
  /** PID of the postmaster while the node runs (embedded backend only). */
  readonly pid: number | undefined
  /** Whether the server is running, as far as this process knows (always true for external nodes). */
  readonly running: boolean
  /** Whether `stop`/`start`/`pauseReplay`/... are available. False for external clusters. */
  readonly controllable: boolean
  /** Data directory (embedded backend only). */
  readonly dataDir: string | undefined
  /** Replicas: the configured `recovery_min_apply_delay` in milliseconds (0 for none). */
  readonly applyDelayMs: number
  /** Replicas: whether the node is listed in the primary's `synchronous_standby_names`. */
  readonly synchronous: boolean
  /**
   * Replicas: `stream` when a WAL receiver streams from {@link upstream}, `archive` when the node restores from the
   * cluster's WAL archive only (log shipping).
   */
  readonly walSource: WalSource
  /**
   * Replicas: the node this one streams from, the primary or (for a cascading replica) another replica;
   * `undefined` for the primary and for archive-fed replicas.
   */
  readonly upstream: ClusterNode | undefined
  /** Replicas: whether replay was paused through {@link pauseReplay} (reset when the node restarts). */
  readonly replayPaused: boolean
  /**
   * Runs one statement on a short-lived connection (one `pg.Client`, closed afterwards). Database errors are
   * passed through unchanged.
   */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>
  /** Stops the server and waits until its process is gone. No-op when it is not running. */
  stop(options?: NodeStopOptions): Promise<void>
  /** Starts the server again with its existing data and waits until it accepts connections. */
  start(): Promise<void>
  /** `stop()` then `start()`. */
  restart(options?: NodeStopOptions): Promise<void>
  /** Replicas: `pg_wal_replay_pause()`. WAL keeps streaming in but is not applied until {@link resumeReplay}. */
  pauseReplay(): Promise<void>
  /** Replicas: `pg_wal_replay_resume()`. */
  resumeReplay(): Promise<void>
  /** Replicas: changes `recovery_min_apply_delay` on the fly (`0` removes the delay). */
  setApplyDelay(delay: Duration): Promise<void>
  /** Replication state of this node (LSNs and lag need the primary, so prefer `cluster.status()`). */
  status(): Promise<NodeStatus>
  /** Whether {@link hang} froze the server and {@link resume} has not continued it yet. */
  readonly hung: boolean
  /**
   * Freezes the server (SIGSTOP to the postmaster and every child process): it keeps its sockets, the kernel still
   * accepts connections for it, but nothing answers, as on a stalled machine. Embedded backend only.
   * `stop()` and `cluster.stop()` continue a frozen server first.
   */
  hang(): Promise<void>
  /** Continues a server frozen by {@link hang} (SIGCONT to the postmaster and every child). No-op otherwise. */
  resume(): Promise<void>
  /**
   * Kills the server at once (SIGKILL to the postmaster and every child), as when its machine dies: no shutdown
   * checkpoint, connections cut. `start()` then runs crash recovery. Embedded backend only.
   */
  kill(): Promise<void>
  /**
   * Starts a stopped node read-write on its own, following no one: a replica leaves recovery (on a new timeline of
   * its own); a former primary simply starts. Its role becomes `standalone`. Replicas still configured to stream
   * from it keep doing so. Refused for the cluster's primary (use `start()`). Embedded backend only.
   */
  startStandalone(): Promise<void>
  /**
   * Opens connections to this server and holds them until `release()`: by default as many as it accepts, so that
   * the next connection attempt gets SQLSTATE 53300. Works on running nodes of any controllable backend.
   */
  occupyConnections(options?: OccupyConnectionsOptions): Promise<OccupiedConnections>
}

/** A snapshot of every node's replication state. */
export interface ClusterStatus {
  /** Backend of the cluster. */
  readonly backend: ClusterBackend | 'external'
  /** One entry per node, in `cluster.nodes` order. */
  readonly nodes: readonly NodeStatus[]
}

/**
 * A running primary/replica cluster, from {@link startCluster}, {@link connectCluster} or
 * `startTestCluster` (`@pgroute/cluster/testing`).
 */
export interface Cluster {
  /** `embedded`, `docker`, or `external` for {@link connectCluster}. */
  readonly backend: ClusterBackend | 'external'
  /** Whether nodes can be stopped, started, paused and promoted. False for external clusters. */
  readonly controllable: boolean
  /** The current primary (after `promote()`, the promoted node). */
  readonly primary: ClusterNode
  /** Nodes that currently replicate from the primary, in creation order. */
  readonly replicas: readonly ClusterNode[]
  /** Every node, including a former primary. */
  readonly nodes: readonly ClusterNode[]
  /** Superuser name used in the URLs. */
  readonly user: string
  /** Database used in the URLs. */
  readonly database: string
  /** Directory holding the nodes' data directories (embedded backend only). */
  readonly dataDir: string | undefined
  /** The WAL archive's directory, when the cluster was started with `archive` (embedded backend only). */
  readonly archiveDir: string | undefined
  /** Whether `stop()` was called. */
  readonly stopped: boolean
  /** The node with this name; throws a `ClusterError` when there is none. */
  node(name: string): ClusterNode
  /**
   * Promotes a replica with `pg_promote(wait => true)` and makes it {@link primary}. By default the old primary is
   * stopped first and the other replicas are re-pointed to stream from the new primary (new timeline).
   */
  promote(replica: ClusterNode | string, options?: PromoteOptions): Promise<void>
  /**
   * Re-points a replica at the current primary: creates its replication slot there, rewrites `primary_conninfo`
   * and reloads (following the latest timeline), then waits until it streams if it is running and not paused. A
   * cascading or archive-fed replica becomes one streaming from the primary.
   */
  followPrimary(replica: ClusterNode | string, options?: { readonly timeoutMs?: number }): Promise<void>
  /**
   * Makes any node other than the primary (a former primary, a standalone node, a broken replica) a replica of the
   * current primary, re-seeded from it: the node is stopped, its data directory replaced by an online base backup
   * of the running primary (`pg_backup_start`/`pg_backup_stop` and a file copy, as the npm binaries have no
   * `pg_basebackup` or `pg_rewind`), then started as a standby streaming from its own slot. Resolves when it
   * streams. The primary keeps serving throughout. Embedded backend only.
   */
  rejoin(node: ClusterNode | string, options?: { readonly timeoutMs?: number }): Promise<void>
  /** Waits until replicas have replayed the primary's current WAL position (`pg_current_wal_flush_lsn()`). */
  waitForReplication(options?: WaitForReplicationOptions): Promise<void>
  /** Role, LSNs and lag of every node. Never throws for an unreachable node; it is reported as such. */
  status(): Promise<ClusterStatus>
  /**
   * Stops every server (waiting until each process is gone) and removes the data unless `keep` was set. Safe to
   * call more than once. On an external cluster it only marks the handle as stopped.
   */
  stop(options?: ClusterStopOptions): Promise<void>
}
