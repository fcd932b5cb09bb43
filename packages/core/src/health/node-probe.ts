import pg from 'pg'
import type { NodeSpec } from '../config/resolved-options.js'
import { endClient } from '../pg-close.js'
import { parseLsn, parseTimeline } from './lsn.js'

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
   * receiver streams (`pg_stat_wal_receiver.received_tli`); `undefined` while it streams nothing, or when the
   * probing role may not see it (it needs `pg_read_all_stats`).
   */
  readonly timeline: number | undefined
  /** `pg_control_system().system_identifier`, read once per probe connection; `undefined` if not permitted. */
  readonly systemId: string | undefined
  /** Milliseconds from sending the probe statement to its result (the connect excluded): one round trip. */
  readonly roundTripMs?: number
}

/** One statement reads everything, so a probe is one round trip. */
const PROBE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8 AS replay_age,
  CASE WHEN pg_is_in_recovery() THEN (SELECT lpad(to_hex(received_tli), 8, '0') FROM pg_stat_wal_receiver)
    ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS timeline`

/** Cannot change while a connection lasts: read once per probe connection, not per probe. */
const SYSTEM_ID_SQL = 'SELECT system_identifier::text AS system_id FROM pg_control_system()'

interface ProbeRow {
  in_recovery: boolean
  lsn: string | null
  receive_lsn: string | null
  replay_age: number | null
  timeline: string | null
}

/** A probe connection and what it read once. */
interface ProbeConnection {
  readonly client: pg.Client
  readonly systemId: string | undefined
}

/**
 * The monitor's own connection to one node. It is separate from the node's pool so that a saturated pool can
 * never make a healthy node look down, and so probing never takes a connection from the application.
 */
export class NodeProbe {
  readonly #spec: NodeSpec
  readonly #timeoutMs: number
  #connection: ProbeConnection | undefined
  #connecting: Promise<ProbeConnection> | undefined
  #closed = false
  /** The probe in flight: a probe connection runs one statement at a time, so overlapping callers share it. */
  #reading: Promise<ProbeReading> | undefined

  constructor(spec: NodeSpec, timeoutMs: number) {
    this.#spec = spec
    this.#timeoutMs = timeoutMs
  }

  /** Reads the node's recovery state and WAL positions, failing after `timeoutMs` (shares a probe in flight). */
  read(): Promise<ProbeReading> {
    this.#reading ??= this.#timedRead().finally(() => {
      this.#reading = undefined
    })
    return this.#reading
  }

  async #timedRead(): Promise<ProbeReading> {
    let timer: NodeJS.Timeout | undefined
    const attempt = { over: false }
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        attempt.over = true
        this.reset()
        reject(new Error(`health probe timed out after ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      timer.unref()
    })
    try {
      return await Promise.race([this.#readOnce(attempt), timeout])
    } catch (error) {
      this.reset()
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * One probe. A connection kept from an earlier probe may have been closed while it idled (`idle_session_timeout`,
   * a load balancer's reset, `pg_terminate_backend`): that says nothing of the node, so a probe whose kept
   * connection fails is tried once more on a new one, within the same time limit. A new connection that fails is
   * the node's failure.
   */
  async #readOnce(attempt: { readonly over: boolean }): Promise<ProbeReading> {
    const kept = this.#connection !== undefined
    try {
      return await this.#read()
    } catch (error) {
      if (!kept || attempt.over || this.#closed) throw error
      this.reset()
      return this.#read()
    }
  }

  async #read(): Promise<ProbeReading> {
    const { client, systemId } = await this.#connect()
    const sent = performance.now()
    // One simple query, one round trip: the limit is set for the probe's own transaction only (`SET LOCAL`), so
    // nothing stays on a server connection that a pooler (PgBouncer in transaction mode) hands to other clients.
    const results = (await client.query(
      `BEGIN; SET LOCAL statement_timeout = ${Math.ceil(this.#timeoutMs)}; ${PROBE_SQL}; COMMIT`,
    )) as unknown as pg.QueryResult<ProbeRow>[]
    const roundTripMs = performance.now() - sent
    const row = results[2]?.rows[0]
    if (!row) throw new Error('health probe returned no row')
    return {
      roundTripMs,
      inRecovery: row.in_recovery,
      lsn: row.lsn ? parseLsn(row.lsn) : undefined,
      receiveLsn: row.receive_lsn ? parseLsn(row.receive_lsn) : undefined,
      replayAgeSeconds: row.replay_age ?? undefined,
      timeline: parseTimeline(row.timeline),
      systemId,
    }
  }

  #connect(): Promise<ProbeConnection> {
    if (this.#connection) return Promise.resolve(this.#connection)
    // A probe still running when the monitor stops must not open a connection nobody will close.
    if (this.#closed) return Promise.reject(new Error('health probe closed'))
    this.#connecting ??= (async () => {
      // No `statement_timeout` startup parameter (PgBouncer refuses unknown ones) and no session `SET` (it would
      // stay on a server connection PgBouncer shares): every probe sets its limit with `SET LOCAL`.
      const client = new pg.Client({
        ...this.#spec.connection,
        application_name: 'pgroute-monitor',
        connectionTimeoutMillis: this.#timeoutMs,
        keepAlive: true,
      })
      // A dropped probe connection is expected when a node dies; the next probe reconnects.
      client.on('error', () => this.reset(client))
      try {
        await client.connect()
      } catch (error) {
        void endClient(client)
        throw error
      }
      const connection = { client, systemId: await readSystemId(client) }
      this.#connection = connection
      return connection
    })().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  /** Drops the probe connection (the next probe opens a new one). */
  reset(client: pg.Client | undefined = this.#connection?.client): void {
    if (!client) return
    if (client === this.#connection?.client) this.#connection = undefined
    void endClient(client)
  }

  /** Closes the probe connection for good, within a bounded time whatever the node does (see endClient). */
  async close(): Promise<void> {
    this.#closed = true
    const connecting = this.#connecting
    const client = this.#connection?.client
    this.#connection = undefined
    await Promise.allSettled([client && endClient(client), connecting?.then((c) => endClient(c.client))])
  }
}

/** The node's system identifier, or `undefined` where the role may not call `pg_control_system()`. */
async function readSystemId(client: pg.Client): Promise<string | undefined> {
  try {
    const { rows } = await client.query<{ system_id: string }>(SYSTEM_ID_SQL)
    return rows[0]?.system_id
  } catch {
    return undefined
  }
}
