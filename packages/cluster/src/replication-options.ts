import type { Duration } from './duration.js'

/**
 * PostgreSQL's `synchronous_commit`: what a commit on the primary waits for before it returns. With synchronous
 * standbys, `remote_apply` waits until they have applied the commit (a read there sees it), `on` until they have
 * flushed it, `remote_write` until they have written it; `local` and `off` never wait for a standby.
 */
export type SynchronousCommit = 'off' | 'local' | 'remote_write' | 'on' | 'remote_apply'

/**
 * How the primary chooses the standbys a commit waits for among those marked `synchronous`: `first` (PostgreSQL's
 * `FIRST n (…)`, the first `n` connected ones in list order, by priority) or `any` (`ANY n (…)`, any `n` of them,
 * a quorum).
 */
export type SynchronousMethod = 'first' | 'any'

/**
 * Where a replica gets its WAL: `stream` (a WAL receiver connected to its upstream, through a replication slot) or
 * `archive` (log shipping: `restore_command` from the cluster's WAL archive only, no `primary_conninfo`).
 */
export type WalSource = 'stream' | 'archive'

/**
 * What archives the WAL: `copy` (a shell command that never overwrites a different file and renames a finished
 * copy into place) or `pgbackrest` (pgBackRest's `archive-push` / `archive-get` with a repository in the archive
 * directory; the `pgbackrest` program must be installed and support the server's PostgreSQL version).
 */
export type ArchiveTool = 'copy' | 'pgbackrest'

/** WAL archiving of the cluster (see {@link ReplicationModeOptions.archive}). */
export interface ArchiveOptions {
  /**
   * Directory the WAL goes to (created if missing, owned by the server user). Default: `wal-archive` inside the
   * cluster's data directory, removed with it; a directory given here is kept.
   */
  readonly dir?: string
  /** What archives: `'copy'` (default) or `'pgbackrest'`. */
  readonly tool?: ArchiveTool
  /**
   * `archive_timeout`: a WAL segment is closed and archived at least this often while WAL is written, which bounds
   * how far an archive-fed replica trails. Whole seconds (rounded up); `0` turns it off. Default `'1s'`.
   */
  readonly timeout?: Duration
}

/** Topology settings of one replica, part of `ReplicaOptions`. */
export interface ReplicaTopologyOptions {
  /**
   * The node this replica streams from: `'primary'` (default) or the name of a replica listed before it, which makes
   * this a cascading replica (its upstream holds its replication slot and sends it WAL).
   */
  readonly upstream?: string
  /** `'stream'` (default) or `'archive'`: restore only from the cluster's WAL archive (needs `archive`). */
  readonly source?: WalSource
  /**
   * `recovery_target_timeline`: `'latest'` (default) follows a promotion onto the new timeline; `'current'` stays on
   * the timeline the replica started on (PostgreSQL's default before version 12), so that it keeps following an old
   * primary.
   */
  readonly recoveryTargetTimeline?: 'latest' | 'current'
}

/** Cluster-wide replication settings, part of `StartClusterOptions`. */
export interface ReplicationModeOptions {
  /** `synchronous_commit` of every node. Default `'on'`. */
  readonly synchronousCommit?: SynchronousCommit
  /**
   * How the primary waits for the replicas marked `synchronous`: `'first'` (default, `FIRST n (…)`) or `'any'`
   * (`ANY n (…)`). Needs at least one synchronous replica.
   */
  readonly synchronousMethod?: SynchronousMethod
  /**
   * The `n` of `FIRST n` / `ANY n`: how many synchronous replicas each commit waits for, from 1 to the number marked
   * `synchronous`. Default: all of them.
   */
  readonly synchronousCount?: number
  /**
   * Archive the WAL of the primary (`archive_mode = on`, so a promoted replica archives too): `true` for the
   * defaults of {@link ArchiveOptions}. Needed by replicas with `source: 'archive'`. Embedded backend only.
   */
  readonly archive?: boolean | ArchiveOptions
}
