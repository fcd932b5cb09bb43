/**
 * Synchronous replication as the primary reports it: which standbys a commit waits for, and when a standby is
 * guaranteed to have applied a commit before the commit was acknowledged (so that a session may read its own write
 * there without waiting for the standby's replay position).
 */

import type { SyncState } from '../replicas/router-node.js'
import { parseLsn } from './lsn.js'

export type { SyncState }

/** `synchronous_standby_names`, parsed as PostgreSQL parses it (`syncrep_gram.y`). */
export interface StandbyPolicy {
  /** `first`: priority (`FIRST n (…)`, `n (…)` or a bare list); `any`: quorum (`ANY n (…)`). */
  readonly method: 'first' | 'any'
  /** How many standbys each commit waits for. */
  readonly count: number
  /** The names listed, in order (`*` matches any standby). */
  readonly names: readonly string[]
}

/** One row of the primary's `pg_stat_replication`: one WAL sender, serving one standby's connection. */
export interface WalSender {
  readonly name: string
  readonly pid: number
  /** `backend_start`: with `pid`, what tells one connection of a standby from its next one. */
  readonly backendStart: string
  readonly state: string
  readonly syncState: SyncState | string
  readonly syncPriority: number
  /** `flush_lsn`: how far the primary last saw the standby flush the WAL (`undefined` before it said). */
  readonly flushLsn: bigint | undefined
}

/**
 * What the primary said of synchronous replication in one statement (a probe, or a WAL-position lookup), on the
 * router's own connection to it.
 */
export interface SyncSnapshot {
  /** `synchronous_standby_names`. */
  readonly standbyNames: string
  /** `synchronous_commit` on the router's connection, and where that value came from (`pg_settings.source`). */
  readonly commit: CommitSetting | undefined
  /** `pg_conf_load_time()` of the router's connection: changes with every reload it has taken. */
  readonly configLoadedAt: string
  /** Milliseconds since that reload, by the server's clock. */
  readonly configAgeMs: number
  /** `pg_backend_pid()` of the router's connection: load times compare only on one backend. */
  readonly backendPid: number
  /** The WAL senders, or `undefined` when the role may not see their state (it needs `pg_read_all_stats`). */
  readonly senders: readonly WalSender[] | undefined
  /** When the statement was sent, and when its answer arrived (`performance.now()`). */
  readonly sentAt: number
  readonly receivedAt: number
}

/** A `synchronous_commit` value and its `pg_settings.source`. */
export interface CommitSetting {
  readonly value: string
  readonly source: string
}

/**
 * How long a reload must have been taken before a snapshot counts as describing the configuration every process
 * of the server applies (the checkpointer and the WAL senders take a reload on their next loop, within
 * milliseconds).
 */
export const CONFIG_SETTLE_MS = 1000

/** Sources of a setting that a reload changes for a session that did not set it itself. */
const FOLLOWS_CONFIG = new Set(['default', 'configuration file'])
/** Sources of a setting fixed for a session's life (its login: role, database, startup options; the command line). */
const FIXED = new Set(['database', 'user', 'database user', 'client', 'command line'])

/**
 * The effective `synchronous_commit` of a connection from what it read at login: `fixed` at a value (a role,
 * database or startup setting, which a reload does not change), or `config` (it follows the server's configuration
 * file, reloads included). `undefined` when it cannot be known (any other source).
 */
export type CommitLevel = { readonly fixed: string } | 'config' | undefined

/** The {@link CommitLevel} of a connection whose `synchronous_commit` was read with its source. */
export function commitLevelOf(setting: CommitSetting | undefined): CommitLevel {
  if (setting === undefined) return undefined
  if (FOLLOWS_CONFIG.has(setting.source)) return 'config'
  return FIXED.has(setting.source) ? { fixed: setting.value } : undefined
}

/**
 * Parses `synchronous_standby_names` as PostgreSQL does: `FIRST n (a, b)`, `ANY n (a, b)`, `n (a, b)` (FIRST), or a
 * bare list `a, b` (FIRST 1). Names may be double-quoted. `undefined` for an empty value (no synchronous standby)
 * or one this parser does not understand (the server would have refused it).
 */
export function parseStandbyNames(text: string): StandbyPolicy | undefined {
  const tokens = tokenize(text)
  if (tokens === undefined || tokens.length === 0) return undefined
  let method: 'first' | 'any' = 'first'
  let at = 0
  const head = tokens[0]!
  if (head.kind === 'word' && /^(first|any)$/i.test(head.text) && tokens[1]?.kind === 'number') {
    method = head.text.toLowerCase() as 'first' | 'any'
    at = 1
  }
  let count = 1
  let list = tokens.slice(at)
  if (list[0]?.kind === 'number' && list[1]?.kind === '(') {
    count = Number(list[0].text)
    if (list.at(-1)?.kind !== ')') return undefined
    list = list.slice(2, -1)
  } else if (at === 1) {
    return undefined
  }
  const names: string[] = []
  for (let i = 0; i < list.length; i++) {
    const token = list[i]!
    if (i % 2 === 1) {
      if (token.kind !== ',') return undefined
      continue
    }
    if (token.kind !== 'word' && token.kind !== 'quoted' && token.kind !== 'number') return undefined
    names.push(token.text)
  }
  if (names.length === 0 || list.length % 2 === 0 || count < 1) return undefined
  return { method, count, names }
}

type Token = { readonly kind: 'word' | 'quoted' | 'number' | ',' | '(' | ')'; readonly text: string }

function tokenize(text: string): Token[] | undefined {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === ',' || c === '(' || c === ')') {
      tokens.push({ kind: c, text: c })
      i++
    } else if (c === '"') {
      let value = ''
      i++
      for (;;) {
        if (i >= text.length) return undefined
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            value += '"'
            i += 2
            continue
          }
          i++
          break
        }
        value += text[i]
        i++
      }
      tokens.push({ kind: 'quoted', text: value })
    } else {
      let word = ''
      while (i < text.length && !/[\s,()"]/.test(text[i]!)) word += text[i++]
      tokens.push({ kind: /^[0-9]+$/.test(word) ? 'number' : 'word', text: word })
    }
  }
  return tokens
}

/** PostgreSQL compares standby names without regard to case (`pg_strcasecmp`). */
function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

/** The WAL senders whose standby calls itself `name` (as PostgreSQL matches names). */
function sendersNamed(snapshot: SyncSnapshot, name: string): WalSender[] {
  return (snapshot.senders ?? []).filter((sender) => sameName(sender.name, name))
}

/** The sync state of the standby that calls itself `name`, or `undefined` when the primary lists no single one. */
export function syncStateOf(
  snapshot: SyncSnapshot | undefined,
  name: string | undefined,
): SyncState | undefined {
  if (snapshot?.senders === undefined || name === undefined) return undefined
  const rows = sendersNamed(snapshot, name)
  if (rows.length !== 1) return undefined
  const state = rows[0]!.syncState
  return state === 'sync' || state === 'quorum' || state === 'potential' || state === 'async'
    ? state
    : undefined
}

/**
 * Whether the standby that calls itself `name` (its `application_name` on the primary) applied every commit made
 * with `synchronous_commit = remote_apply` between `before` and `after` before the commit was acknowledged:
 *
 * - the configuration is the same in both (same `synchronous_standby_names`, no reload in between on the router's
 *   connection, the last one at least {@link CONFIG_SETTLE_MS} before `before`);
 * - one WAL sender of the primary serves `name`, the same one (pid and start time) in both, streaming in both:
 *   a sender's state never goes back to `catchup`, so it streamed all along. A standby that reconnected
 *   in between (a restart, a network cut) has another sender, and may have been catching up, not counted, when a
 *   commit was released;
 * - `FIRST n`: its priority is at most `n` and no more than `n` senders have a priority as high or higher (so it
 *   is among the `n` a commit waits for whenever it streams); `ANY n`: `n` equals the number of names listed, no
 *   `*`, and no more than `n` senders are candidates (so a commit waits for every one of them). With `ANY n`
 *   smaller, no single standby is guaranteed.
 *
 * The commit's own `synchronous_commit` and the warning of a cancelled wait are the caller's to check.
 */
export function appliesEveryCommit(
  name: string | undefined,
  before: SyncSnapshot | undefined,
  after: SyncSnapshot | undefined,
): boolean {
  if (name === undefined || before === undefined || after === undefined) return false
  if (before.standbyNames !== after.standbyNames) return false
  if (before.backendPid !== after.backendPid || before.configLoadedAt !== after.configLoadedAt) return false
  if (before.configAgeMs < CONFIG_SETTLE_MS) return false
  const policy = parseStandbyNames(before.standbyNames)
  if (policy === undefined) return false
  const first = sendersNamed(before, name)
  const last = sendersNamed(after, name)
  if (first.length !== 1 || last.length !== 1) return false
  const [a, b] = [first[0]!, last[0]!]
  if (a.pid !== b.pid || a.backendStart !== b.backendStart) return false
  if (a.state !== 'streaming' || b.state !== 'streaming') return false
  return counted(policy, before, a) && counted(policy, after, b)
}

/** Whether `sender` is among the senders every commit waits for under `policy`, as `snapshot` shows them. */
function counted(policy: StandbyPolicy, snapshot: SyncSnapshot, sender: WalSender): boolean {
  const senders = snapshot.senders ?? []
  if (policy.method === 'first') {
    const priority = sender.syncPriority
    if (sender.syncState !== 'sync' || priority < 1 || priority > policy.count) return false
    // A `*` at or before its place gives any standby that connects a priority as high as its own.
    if (policy.names.slice(0, priority).includes('*')) return false
    const rivals = senders.filter((s) => s.syncPriority >= 1 && s.syncPriority <= priority)
    return rivals.length <= policy.count
  }
  if (sender.syncState !== 'quorum') return false
  if (policy.names.includes('*') || policy.count !== policy.names.length) return false
  return senders.filter((s) => s.syncPriority >= 1).length <= policy.count
}

/**
 * The WAL senders as `pg_stat_replication` lists them (the same rows and values, privileges included), read from
 * the two functions that view joins, without its join to `pg_authid` that nothing here reads: the primary's
 * position lookup with this column took 0.50 ms on loopback naming the view, 0.20 ms naming the functions
 * (PostgreSQL 18; the position alone, 0.03 ms). `pg_stat_get_activity(pid)` per sender, not the whole activity
 * list joined on pid: the list costs the server more with every connection it has (a primary probe 0.25 ms with
 * none, 0.47 ms with 300 connections), the per-sender lookup stays at about 0.21 ms.
 */
const SENDERS = `(SELECT json_agg(json_build_array(a.application_name, w.pid, a.backend_start::text, w.state,
      w.sync_state, w.sync_priority, w.flush_lsn::text)) FROM pg_stat_get_wal_senders() w, LATERAL pg_stat_get_activity(w.pid) a)`

/**
 * A column (`sync`, text) with what the primary says of synchronous replication, for {@link parseSyncSnapshot}:
 * `NULL` on a standby. Needs no privilege; the senders' state needs `pg_read_all_stats` (else it reads as not
 * visible).
 *
 * The senders are read from the functions behind the `pg_stat_replication` view, each sender's own activity row
 * fetched by its pid: the same rows and privileges as the view, without its join to `pg_authid`. Through the view,
 * a probe cost the server 0.65 ms of CPU on a standby (the view planned, never run), 0.47 ms on a primary with 3
 * connections and 0.70 ms with 300 (the view builds every backend's activity row: a fleet's probes cost it N²);
 * this way 0.22–0.24 ms in each case, against 0.06 ms for the probe before it read the sync state (300 probes per
 * text, rounds interleaved, one connection; busy 2-core machine, Dec 8). Only a primary's probe text carries the
 * column now: the server plans it even where the `CASE` never runs it (see `probeSql` in `node-probe.ts`).
 */
export const SYNC_SNAPSHOT_COLUMN = `CASE WHEN pg_is_in_recovery() THEN NULL ELSE json_build_object(
    'names', current_setting('synchronous_standby_names'),
    'commit', current_setting('synchronous_commit'),
    'loaded', pg_conf_load_time()::text,
    'age', EXTRACT(EPOCH FROM clock_timestamp() - pg_conf_load_time()) * 1000,
    'pid', pg_backend_pid(),
    'senders', ${SENDERS})::text END AS sync`

type SenderRow = [
  string | null,
  number | null,
  string | null,
  string | null,
  string | null,
  number | null,
  string | null,
]

interface SnapshotJson {
  names: string
  commit: string | null
  loaded: string
  age: number
  pid: number
  senders: SenderRow[] | null
}

/**
 * The snapshot a {@link SYNC_SNAPSHOT_COLUMN} value describes, of a statement sent at `sentAt` and answered at
 * `receivedAt` (`performance.now()`), on a connection whose `synchronous_commit` comes from `commitSource`
 * (`pg_settings.source`, read once per connection: reading `pg_settings` in every probe doubled its server CPU).
 */
export function parseSyncSnapshot(
  text: string | null,
  receivedAt: number,
  sentAt: number,
  commitSource: string | undefined,
): SyncSnapshot | undefined {
  if (!text) return undefined
  let json: SnapshotJson
  try {
    json = JSON.parse(text) as SnapshotJson
  } catch {
    return undefined
  }
  const rows = json.senders ?? []
  // Without pg_read_all_stats the rows are there but their state is not: nothing can be told from them.
  const visible = rows.every((row) => row[3] !== null && row[1] !== null)
  return {
    standbyNames: json.names,
    commit:
      json.commit && commitSource !== undefined ? { value: json.commit, source: commitSource } : undefined,
    configLoadedAt: json.loaded,
    configAgeMs: Number(json.age),
    backendPid: Number(json.pid),
    senders: visible
      ? rows.map((row) => ({
          name: row[0] ?? '',
          pid: Number(row[1]),
          backendStart: row[2] ?? '',
          state: row[3] ?? '',
          syncState: row[4] ?? '',
          syncPriority: Number(row[5] ?? 0),
          flushLsn: row[6] ? parseLsn(row[6]) : undefined,
        }))
      : undefined,
    sentAt,
    receivedAt,
  }
}
