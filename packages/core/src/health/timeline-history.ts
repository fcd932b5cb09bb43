import pg from 'pg'
import type { NodeSpec } from '../config/resolved-options.js'
import { endClient } from '../pg-close.js'
import { parseLsn } from './lsn.js'

/**
 * Parses a timeline history file (`pg_wal/0000000N.history`): one line per ancestor timeline,
 * `<parent timeline>\t<switch point LSN>\t<reason>`, comments starting with `#`. Returns where each ancestor
 * timeline ended: WAL written on it past that point is not part of the timelines after it.
 */
export function parseTimelineHistory(text: string): Map<number, bigint> {
  const ends = new Map<number, bigint>()
  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const [timeline, switchPoint] = trimmed.split(/\s+/)
    const id = Number(timeline)
    const lsn = switchPoint === undefined ? undefined : parseLsn(switchPoint)
    if (Number.isInteger(id) && id > 0 && lsn !== undefined) ends.set(id, lsn)
  }
  return ends
}

/** How long a failed read of a history file is not tried again (it usually fails for want of a privilege). */
const RETRY_AFTER_MS = 60_000

/**
 * Where the timelines before the cluster's current one ended (their switch points), read from the current
 * primary's timeline history file with `pg_read_file()`: a superuser may, another role needs
 * `GRANT EXECUTE ON FUNCTION pg_read_file(text) TO <role>` (the file is inside the data directory, so
 * `pg_read_server_files` is not needed). Without it, the replication command `TIMELINE_HISTORY` gives the same
 * file to a role with the `REPLICATION` attribute. Without either, switch points stay unknown (see {@link endOf}).
 */
export class TimelineHistory {
  readonly #timeoutMs: number
  /** Where each ancestor timeline ended, merged from every history file read. */
  readonly #ends = new Map<number, bigint>()
  /** Timelines whose history file was read (or is being read), and when a read failed. */
  readonly #reads = new Map<number, Promise<void>>()
  readonly #failedAt = new Map<number, number>()
  /** Timelines whose history file was read. */
  readonly #done = new Set<number>()

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Where `timeline` ended, if a history file read so far says. */
  endOf(timeline: number): bigint | undefined {
    return this.#ends.get(timeline)
  }

  /**
   * Where `timeline`, older than the cluster's `current` one, forked off it: its switch point once read,
   * `'pending'` until the history of `current` has been read once (or tried), `undefined` when that read failed or
   * did not name it (the fork point cannot be known; a failed read is tried again later, in the background).
   */
  forkOf(timeline: number, current: number): bigint | 'pending' | undefined {
    const end = this.#ends.get(timeline)
    if (end !== undefined || timeline >= current || current <= 1) return end
    return this.#failedAt.has(current) || this.#done.has(current) ? undefined : 'pending'
  }

  /**
   * Reads the history of `timeline` (the one `node` leads) once: its file lists every ancestor's switch point.
   * Resolves when done (never rejects; a failure leaves the switch points unknown and is retried a minute later).
   */
  learn(node: NodeSpec, timeline: number): Promise<void> {
    if (timeline <= 1) return Promise.resolve()
    const failedAt = this.#failedAt.get(timeline)
    if (failedAt !== undefined && Date.now() - failedAt < RETRY_AFTER_MS) return Promise.resolve()
    let read = this.#reads.get(timeline)
    if (read === undefined || failedAt !== undefined) {
      // A failed read keeps its mark (renewed: one retry at a time) while it is tried again: the fork points stay
      // unknown, not pending.
      if (failedAt !== undefined) this.#failedAt.set(timeline, Date.now())
      read = this.#read(node, timeline).then(
        (ends) => {
          for (const [ancestor, lsn] of ends) this.#ends.set(ancestor, lsn)
          this.#failedAt.delete(timeline)
          this.#done.add(timeline)
        },
        () => {
          this.#failedAt.set(timeline, Date.now())
        },
      )
      this.#reads.set(timeline, read)
    }
    return read
  }

  /** Forgets everything (the cluster behind the addresses was replaced: its timelines are another history). */
  clear(): void {
    this.#ends.clear()
    this.#reads.clear()
    this.#failedAt.clear()
    this.#done.clear()
  }

  /**
   * Reads the history file of `timeline` with `pg_read_file()`; when the server refuses it (no privilege: a
   * server error, not a failure to connect), with the replication command `TIMELINE_HISTORY` on a replication
   * connection, which a role with the `REPLICATION` attribute may run (and `pg_hba.conf` must let it connect for
   * `replication`).
   */
  async #read(node: NodeSpec, timeline: number): Promise<Map<number, bigint>> {
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`
    try {
      return await this.#query(node, false, 'SELECT pg_read_file($1) AS content', [file])
    } catch (error) {
      if (typeof (error as { severity?: unknown } | null)?.severity !== 'string') throw error
      return await this.#query(node, true, `TIMELINE_HISTORY ${timeline}`, undefined)
    }
  }

  /** Runs `sql` on a short-lived connection of its own (a replication one when asked), within the time limit. */
  async #query(
    node: NodeSpec,
    replication: boolean,
    sql: string,
    values: unknown[] | undefined,
  ): Promise<Map<number, bigint>> {
    const client = new pg.Client({
      ...node.connection,
      application_name: 'pgroute-monitor',
      connectionTimeoutMillis: this.#timeoutMs,
      keepAlive: false,
      ...(replication ? { replication: 'database' } : {}),
    })
    client.on('error', () => {})
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading the timeline history timed out`)), this.#timeoutMs)
      timer.unref()
    })
    try {
      const read = (async () => {
        await client.connect()
        return client.query<{ content: string }>(sql, values)
      })()
      read.catch(() => {})
      const { rows } = await Promise.race([read, late])
      return parseTimelineHistory(rows[0]?.content ?? '')
    } finally {
      clearTimeout(timer)
      void endClient(client)
    }
  }
}
