import type pg from 'pg'
import { parseLsn, parseTimeline, type WalPosition } from '../health/lsn.js'
import type { RouterNode } from '../replicas/router-node.js'

/** A replica's replay position and timeline (the timeline of its WAL receiver, when it has one). */
export const REPLAY_POSITION_SQL = `SELECT pg_last_wal_replay_lsn()::text AS lsn,
  (SELECT lpad(to_hex(received_tli), 8, '0') FROM pg_stat_wal_receiver) AS timeline`

/** A replica's replay position as read: `undefined` when it names none, `'failed'` when it did not answer. */
export type ReplayReading = WalPosition | undefined | 'failed'

type ReplayRow = { lsn: string | null; timeline: string | null }

/**
 * A session's read that goes to a replica before the position it must see is known: the replica's replay position
 * is read on the read's own connection right before it, and the read's answer stands only when that position has
 * reached `required` (see `ReadYourWrites.checked`).
 */
export interface CheckedRead {
  readonly node: RouterNode
  /** The position the read must see (`undefined`: none). */
  readonly required: Promise<WalPosition | undefined> | WalPosition | undefined
}

/** The pg client's pipeline switch (pg ≥ 8.23: queries are written without waiting for the one before). */
interface Pipelining {
  pipeline?: boolean
}

/** Connections the router switched to pipeline mode for a checked read (and switches back: see {@link settlePipeline}). */
const switched = new WeakSet<object>()

/**
 * Sends the replay-position statement on `client`, an idle connection of `node`, and switches the connection to
 * pipeline mode so that the statement sent next (the read) goes out with it: both are answered in one round trip,
 * and the server runs the read after the statement, so it sees at least what the statement found replayed. pg
 * without pipeline mode sends the read once the statement is answered: the same order, a round trip later.
 * {@link settlePipeline} switches it back when the connection is let go (`NodeConnections.release`). A connection
 * already in pipeline mode (the application's pool made so) stays so.
 */
export function readReplayBefore(client: pg.PoolClient, node: RouterNode): Promise<ReplayReading> {
  const pipelining = client as Pipelining
  if (pipelining.pipeline !== true) {
    switched.add(client)
    pipelining.pipeline = true
  }
  return client.query<ReplayRow>(REPLAY_POSITION_SQL).then(
    ({ rows }) => replayOf(rows[0], node),
    () => 'failed' as const,
  )
}

/**
 * Switches `client` back from pipeline mode if the router switched it on, once every statement sent on it has been
 * answered (it is let go). Called only for a connection in pipeline mode: one property read on every release.
 */
export function settlePipeline(client: pg.PoolClient): void {
  if ((client as Pipelining).pipeline === true && switched.delete(client))
    (client as Pipelining).pipeline = false
}

/** The replay position of a row of {@link REPLAY_POSITION_SQL} read on `node`. */
export function replayOf(row: ReplayRow | undefined, node: RouterNode): WalPosition | undefined {
  const lsn = row?.lsn ? parseLsn(row.lsn) : undefined
  return lsn === undefined ? undefined : { lsn, timeline: parseTimeline(row?.timeline) ?? node.timeline }
}

/**
 * Whether `position`, a replay position read on `node`, has reached `required` (recorded on the node either way).
 * A replica that moved to another timeline meanwhile is not caught up. Without a WAL receiver (its upstream
 * restarting, or fed from an archive) it names no timeline: the one its probes last read stands.
 */
export function reached(node: RouterNode, position: WalPosition | undefined, required: WalPosition): boolean {
  if (position === undefined || !sameTimeline(node, position, required)) return false
  node.observePosition(position.lsn)
  return position.lsn >= required.lsn
}

/** `promise`, or a rejection once `ms` have passed (the timer never holds the process open). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** Whether `position`, read on `node`, is of `required`'s timeline (one without a timeline: the node's last known). */
export function sameTimeline(node: RouterNode, position: WalPosition, required: WalPosition): boolean {
  return (position.timeline ?? node.timeline) === required.timeline
}
