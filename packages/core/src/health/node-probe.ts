import type pg from 'pg'
import { parseLsn, parseTimeline } from './lsn.js'
import { DEFAULT_SEGMENT_SIZE, type LinkInfo, type NodeLink } from './node-link.js'
import type { ServerIdentity } from './server-identity.js'
import { parseSyncSnapshot, SYNC_SNAPSHOT_COLUMN, type SyncSnapshot } from './sync-replication.js'

/** What one probe of a node reads. */
export interface ProbeReading {
  /** `pg_is_in_recovery()`. */
  readonly inRecovery: boolean
  /** Primary: `pg_current_wal_lsn()`. Replica: `pg_last_wal_replay_lsn()`. */
  readonly lsn: bigint | undefined
  /** Replica: `pg_last_wal_receive_lsn()`. */
  readonly receiveLsn: bigint | undefined
  /** Replica: seconds since the last replayed transaction committed on the primary (`null` before any). */
  readonly replayAgeSeconds: number | undefined
  /**
   * Primary: its current timeline (from the name of its current WAL file). Replica: the timeline its WAL
   * receiver streams (`pg_stat_wal_receiver.received_tli`; it needs `pg_read_all_stats`); without a WAL receiver
   * (a standby fed from the WAL archive, or one between two streams), the newest timeline history file in its
   * `pg_wal` (restored when it follows a timeline; `pg_ls_waldir()` needs `pg_monitor`), or the timeline of its
   * last restartpoint (`pg_control_checkpoint()`, which lags); `undefined` when none can be read.
   */
  readonly timeline: number | undefined
  /** Replica: whether it has a WAL receiver now (it streams, or tries to); `false` for log shipping. */
  readonly receiver?: boolean
  /**
   * Replica: the name it gives itself on its upstream (`application_name` of its WAL receiver's connection, as
   * `pg_stat_wal_receiver.conninfo` shows it), which is how the primary's `pg_stat_replication` names it.
   */
  readonly applicationName?: string | undefined
  /** `pg_current_snapshot()`: which transactions the node counts as completed. */
  readonly snapshot?: string | undefined
  /** Primary: what it says of synchronous replication. */
  readonly sync?: SyncSnapshot | undefined
  /** `pg_control_system().system_identifier`, read once per connection; `undefined` if not permitted. */
  readonly systemId: string | undefined
  /** Milliseconds from sending the probe statement to its result (the connect excluded): one round trip. */
  readonly roundTripMs?: number
  /** The server that answered (read once per connection). */
  readonly server?: ServerIdentity | undefined
  /** `wal_segment_size` in bytes. */
  readonly segmentSize?: number
}

/**
 * Where a standby without a WAL receiver says which timeline it is on: the newest timeline history file in its
 * `pg_wal`, and the timeline of its last restartpoint (which lags). PostgreSQL checks the privilege of every function
 * a statement names when the statement starts, called or not, so each part is named only where the role may call it
 * (`may`, read once per connection).
 */
function restoredTimeline(may: LinkInfo['may'] | undefined): string {
  const parts = [
    may?.lsWalDir &&
      `(SELECT max(upper(substr(name, 1, 8))) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-Fa-f]{8}\\.history$')`,
    may?.controlCheckpoint &&
      `(SELECT upper(lpad(to_hex(timeline_id), 8, '0')) FROM pg_control_checkpoint())`,
  ].filter(Boolean)
  if (parts.length === 0) return 'NULL::text'
  return `CASE WHEN pg_is_in_recovery() AND NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver)
    THEN greatest(${parts.join(', ')}) END`
}

/** Which node a probe's text is for: the parts only the other kind of node has are left out of it. */
export type ProbeKind = 'primary' | 'standby'

/** The probe's text for each set of privileges and kind of node, made once. */
const PROBE_SQL = new Map<string, string>()

/**
 * One statement reads everything, so a probe is one round trip. The server plans every part of a statement, even
 * one its `CASE` never runs, so each kind of node gets a text without what only the other kind has: a standby's
 * without the synchronous replication state ({@link SYNC_SNAPSHOT_COLUMN}, most of a standby's probe), a
 * primary's without the WAL receiver, the replay and the restored timeline. A node found to be of the other kind
 * is read again with the other text (see {@link NodeProbe}). Exported for `bench/src/probe-text-cost.ts`.
 *
 * @internal
 */
export function probeSql(may: LinkInfo['may'] | undefined, kind: ProbeKind): string {
  const key = `${may?.lsWalDir === true}/${may?.controlCheckpoint === true}/${kind}`
  let sql = PROBE_SQL.get(key)
  if (sql === undefined) {
    sql = kind === 'standby' ? standbyProbeSql(may) : PRIMARY_PROBE_SQL
    PROBE_SQL.set(key, sql)
  }
  return sql
}

/** A primary's probe: its values for the standby's columns are what the standby's text reads on a primary. */
const PRIMARY_PROBE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END AS lsn,
  NULL::text AS receive_lsn, NULL::float8 AS replay_age,
  CASE WHEN NOT pg_is_in_recovery() THEN substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS timeline,
  false AS receiver, NULL::text AS restored_timeline, NULL::text AS application_name,
  pg_current_snapshot()::text AS snapshot,
  ${SYNC_SNAPSHOT_COLUMN}`

function standbyProbeSql(may: LinkInfo['may'] | undefined): string {
  return `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8 AS replay_age,
  CASE WHEN pg_is_in_recovery() THEN (SELECT lpad(to_hex(received_tli), 8, '0') FROM pg_stat_wal_receiver)
    ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS timeline,
  pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) AS receiver,
  ${restoredTimeline(may)} AS restored_timeline,
  CASE WHEN pg_is_in_recovery() THEN (SELECT coalesce(
    (regexp_match(conninfo, '(?:^|\\s)application_name=(\\S+)'))[1],
    (regexp_match(conninfo, '(?:^|\\s)fallback_application_name=(\\S+)'))[1]) FROM pg_stat_wal_receiver) END
    AS application_name,
  pg_current_snapshot()::text AS snapshot,
  NULL::text AS sync`
}

/** A probe's row, and when its statement was sent and answered (`performance.now()`). */
interface ProbeAnswer {
  readonly row: ProbeRow
  readonly sentAt: number
  readonly receivedAt: number
}

interface ProbeRow {
  in_recovery: boolean
  lsn: string | null
  receive_lsn: string | null
  replay_age: number | null
  timeline: string | null
  receiver: boolean
  restored_timeline: string | null
  application_name: string | null
  snapshot: string | null
  sync: string | null
}

/**
 * The health probe of one node, on the router's own connection to it ({@link NodeLink}), shared with the router's
 * other statements there. It is not a connection of the node's pool, so a saturated pool can never make a healthy
 * node look down, and probing never takes a connection from the application.
 */
export class NodeProbe {
  readonly #link: NodeLink
  readonly #timeoutMs: number
  /** The probe in flight: overlapping callers share it. */
  #reading: Promise<ProbeReading> | undefined
  /**
   * What the last probe found the node to be, and so which text its next probe sends ({@link probeSql}). A node
   * found to be the other kind (a promotion, a primary back in recovery) is read again at once with the other
   * text, in the same probe: every reading is complete.
   */
  #kind: ProbeKind = 'primary'

  constructor(link: NodeLink, timeoutMs: number) {
    this.#link = link
    this.#timeoutMs = timeoutMs
  }

  /** The router's connection to the node. */
  get link(): NodeLink {
    return this.#link
  }

  /** Reads the node's recovery state and WAL positions, failing after `timeoutMs` (shares a probe in flight). */
  read(): Promise<ProbeReading> {
    this.#reading ??= this.#link
      .run((client) => this.#read(client), this.#timeoutMs, 'health probe', true)
      .finally(() => {
        this.#reading = undefined
      })
    return this.#reading
  }

  async #read(client: pg.Client): Promise<ProbeReading> {
    let answer = await this.#send(client, this.#kind)
    if (answer.row.in_recovery !== (this.#kind === 'standby')) {
      this.#kind = answer.row.in_recovery ? 'standby' : 'primary'
      answer = await this.#send(client, this.#kind)
    }
    const { row, sentAt, receivedAt } = answer
    const info = this.#link.info
    return {
      roundTripMs: receivedAt - sentAt,
      inRecovery: row.in_recovery,
      lsn: row.lsn ? parseLsn(row.lsn) : undefined,
      receiveLsn: row.receive_lsn ? parseLsn(row.receive_lsn) : undefined,
      replayAgeSeconds: row.replay_age ?? undefined,
      timeline: parseTimeline(row.timeline) ?? parseTimeline(row.restored_timeline),
      receiver: row.receiver,
      applicationName: row.application_name ?? undefined,
      snapshot: row.snapshot ?? undefined,
      sync: parseSyncSnapshot(row.sync, receivedAt, sentAt, info?.commitSource),
      systemId: info?.systemId,
      server: info?.server,
      segmentSize: info?.segmentSize ?? DEFAULT_SEGMENT_SIZE,
    }
  }

  /** One probe statement, of the text for `kind`. */
  async #send(client: pg.Client, kind: ProbeKind): Promise<ProbeAnswer> {
    // One simple query, one round trip: the limit is set for the probe's own transaction only (`SET LOCAL`), so
    // nothing stays on a server connection that a pooler (PgBouncer in transaction mode) hands to other clients.
    const sentAt = performance.now()
    const sql = probeSql(this.#link.info?.may, kind)
    const results = (await client.query(
      `BEGIN; SET LOCAL statement_timeout = ${Math.ceil(this.#timeoutMs)}; ${sql}; COMMIT`,
    )) as unknown as pg.QueryResult<ProbeRow>[]
    const receivedAt = performance.now()
    const row = results[2]?.rows[0]
    if (!row) throw new Error('health probe returned no row')
    return { row, sentAt, receivedAt }
  }
}
