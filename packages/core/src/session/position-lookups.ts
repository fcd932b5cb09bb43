import { setTimeout as sleep } from 'node:timers/promises'
import { isPgRouteError, PgRouteError } from '../errors.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import { parseLsn, parseTimeline, type WalPosition } from '../health/lsn.js'
import { closedError } from '../health/node-link.js'
import { parseSyncSnapshot, SYNC_SNAPSHOT_COLUMN } from '../health/sync-replication.js'
import { isConnectionError } from '../pg-errors.js'
import type { ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import { REPLAY_POSITION_SQL } from './checked-read.js'
import { SharedFetch } from './shared-fetch.js'

/** Pauses between lookups of the primary's position while it fails (doubling). */
const PRIMARY_RETRY_MIN_MS = 25
const PRIMARY_RETRY_MAX_MS = 200

const INSERT_POSITION_SQL = `SELECT pg_current_wal_insert_lsn()::text AS lsn,
  substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8) AS timeline`
// The same statement may say what the primary waits for on commit (the synchronous-standby rule needs a snapshot
// taken after the session's writes were acknowledged). That takes the statement from 0.03 to 0.20 ms on loopback
// (PostgreSQL 18), longer than a point read: it is read only when the rule may use it.
const INSERT_POSITION_SYNC_SQL = `${INSERT_POSITION_SQL}, ${SYNC_SNAPSHOT_COLUMN}`

type PositionRow = { lsn: string | null; timeline: string | null; sync?: string | null }

/** One node's lookups, each kind of position shared by concurrent callers. */
interface NodeLookups {
  readonly written: SharedFetch<WalPosition | undefined>
  readonly replayed: SharedFetch<WalPosition | undefined>
}

/**
 * The router's own statements that read WAL positions for read-your-writes: a node's insert position (the primary's,
 * after a session's write) and its replay position (a replica's). They run on the router's own connection to each
 * node (its `NodeLink`, shared with the health probes), never on a connection of the application's pools (the replay
 * check sent right before a read on its own connection is `checked-read.ts`'s), and
 * concurrent callers share each lookup (at most one runs and one waits per node and kind).
 */
export class PositionLookups {
  readonly #replicas: ReplicaSet
  readonly #monitor: HealthMonitor
  readonly #timeoutMs: number
  /** Whether the synchronous-standby rule is on (`readYourWrites.synchronousApply`). */
  readonly #syncRule: boolean
  /** Made on first use: nodes change roles and join at runtime. */
  readonly #lookups = new Map<RouterNode, NodeLookups>()
  #closed = false

  /**
   * `timeoutMs` bounds each statement. `syncRule`: the synchronous-standby rule is on, and the insert-position
   * statement reads a snapshot of synchronous replication too, as long as the primary names a synchronous standby.
   */
  constructor(replicas: ReplicaSet, monitor: HealthMonitor, timeoutMs: number, syncRule: boolean) {
    this.#replicas = replicas
    this.#monitor = monitor
    this.#timeoutMs = timeoutMs
    this.#syncRule = syncRule
  }

  /** `node`'s WAL insert position and timeline, read after this call (shared with concurrent callers). */
  written(node: RouterNode): Promise<WalPosition | undefined> {
    return this.#lookupsOf(node).written.get()
  }

  /** `node`'s WAL replay position and timeline, read after this call (shared with concurrent callers). */
  replayed(node: RouterNode): Promise<WalPosition | undefined> {
    return this.#lookupsOf(node).replayed.get()
  }

  /**
   * The primary's WAL insert position and timeline: everything committed before this call is at or before it.
   * When the primary fails under the lookup (it may be going down in a failover, or restarting), the primary the
   * router follows next is asked, until `timeoutMs` has passed: without the position, a session's read has no
   * safe node. Then it fails with `PGROUTE_PRIMARY_UNAVAILABLE`, the last failure as `cause`.
   */
  async primaryPosition(): Promise<WalPosition> {
    const deadline = Date.now() + this.#timeoutMs
    for (let pause = PRIMARY_RETRY_MIN_MS; ; pause = Math.min(pause * 2, PRIMARY_RETRY_MAX_MS)) {
      const primary = this.#replicas.primary
      try {
        const position = await this.written(primary)
        if (position === undefined) throw new Error('pg_current_wal_insert_lsn() returned no position')
        return position
      } catch (error) {
        if (isPgRouteError(error) && error.code === 'PGROUTE_CLOSED') throw error
        const remaining = deadline - Date.now()
        // A hung primary's lookup timed out: the time a read may take is spent.
        if (!isConnectionError(error) || this.#closed || remaining <= 0) throw lookupFailed(primary, error)
        await sleep(Math.min(pause, remaining), undefined, { ref: false })
      }
    }
  }

  /** Forgets the lookups of `node` (a node removed at runtime; its connection is the monitor's to close). */
  forget(node: RouterNode): void {
    this.#lookups.delete(node)
  }

  /** Refuses lookups from now on (the router is ending; its connections are closed by the monitor after this). */
  close(): void {
    this.#closed = true
  }

  #lookupsOf(node: RouterNode): NodeLookups {
    let lookups = this.#lookups.get(node)
    if (lookups === undefined) {
      lookups = {
        written: new SharedFetch(() => this.#fetch(node, this.#writtenSql())),
        replayed: new SharedFetch(() => this.#fetch(node, REPLAY_POSITION_SQL)),
      }
      this.#lookups.set(node, lookups)
    }
    return lookups
  }

  /**
   * The insert-position statement: with a snapshot of synchronous replication unless the rule is off or the latest
   * snapshot says the primary names no synchronous standby. A standby named since is missed until the next probe:
   * without a snapshot after a write, its session's reads wait for a replay position (the rule never holds on a
   * guess).
   */
  #writtenSql(): string {
    if (!this.#syncRule) return INSERT_POSITION_SQL
    const latest = this.#monitor.syncBefore(Number.POSITIVE_INFINITY)
    return latest?.standbyNames === '' ? INSERT_POSITION_SQL : INSERT_POSITION_SYNC_SQL
  }

  async #fetch(node: RouterNode, sql: string): Promise<WalPosition | undefined> {
    const link = this.#monitor.linkOf(node)
    if (this.#closed || link === undefined) throw closedError(node.name)
    const sentAt = performance.now()
    const row = await link.run(
      async (client) => (await client.query<PositionRow>(sql)).rows[0],
      this.#timeoutMs,
      "the router's own statement",
    )
    const sync = parseSyncSnapshot(row?.sync ?? null, performance.now(), sentAt, link.info?.commitSource)
    if (sync !== undefined) this.#monitor.recordSync(sync)
    const lsn = row?.lsn ? parseLsn(row.lsn) : undefined
    return lsn === undefined ? undefined : { lsn, timeline: parseTimeline(row?.timeline) ?? node.timeline }
  }
}

/** `PGROUTE_PRIMARY_UNAVAILABLE`: the primary's position could not be read in time (the last failure as cause). */
function lookupFailed(primary: RouterNode, error: unknown): PgRouteError {
  return new PgRouteError(
    'PGROUTE_PRIMARY_UNAVAILABLE',
    `The WAL position of the primary ${primary.name} (which a session's read must see) could not be read: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  )
}
