import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import type { Cluster, ClusterLogEntry, ClusterNode } from '@pgroute/cluster'
import pg from 'pg'

/*
 * The classifier's second oracle: a real hot standby. Each statement runs on a fresh standby session, and the
 * session's and the server's state are compared before and after: a statement is replica-safe only if the standby
 * ran it without a refusal and it left nothing behind. A statement the standby rejects for another reason is run
 * on the primary inside BEGIN … ROLLBACK, to tell invalid SQL (which fails everywhere) from a statement that only
 * fails on a standby.
 */

/** What a statement did on the standby. */
export type StandbyVerdict =
  /** Ran (or failed the same way on the primary) and left nothing: may run on a replica. */
  | { readonly kind: 'clean' }
  /** The standby refused it because it is in recovery (read-only transaction, recovery in progress, …). */
  | { readonly kind: 'refused'; readonly error: string }
  /** It left state behind in the session or on the server (it may have failed too). */
  | { readonly kind: 'state'; readonly left: readonly string[]; readonly error?: string }
  /** It failed on the standby, but ran inside BEGIN … ROLLBACK on the primary: it needs the primary. */
  | { readonly kind: 'standby-only-error'; readonly error: string }
  /** It failed on the standby and on the primary alike: invalid wherever it runs. */
  | { readonly kind: 'invalid'; readonly error: string }

/** Whether a standby may run it: clean, or invalid everywhere (it then fails the same way on a replica). */
export function replicaSafe(verdict: StandbyVerdict): boolean {
  return verdict.kind === 'clean' || verdict.kind === 'invalid'
}

/** Options of {@link StandbyOracle.judge}. */
export interface JudgeOptions {
  /** Bind parameters (the statement then goes through the extended protocol). */
  readonly params?: readonly unknown[]
  /**
   * Also run the text inside an explicit transaction and look for transaction-scoped effects (advisory locks taken
   * with `pg_advisory_xact_lock`, an assigned transaction id) before its end. Only for texts without
   * transaction control of their own. Default true.
   */
  readonly inTransaction?: boolean
}

/** The error of a standby that is in recovery: SQLSTATE 25006 or a message about recovery or hot standby. */
export function isRecoveryRefusal(error: { code?: string; message: string }): boolean {
  return (
    error.code === '25006' ||
    /during recovery|recovery is in progress|hot standby|in a read-only transaction|while recovery/i.test(
      error.message,
    )
  )
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string }
  return `${code ?? 'no code'}: ${message ?? String(error)}`
}

type Snapshot = Record<string, unknown>

function diff(before: Snapshot, after: Snapshot, prefix: string): string[] {
  const out: string[] = []
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[key]
    const b = after[key]
    if (JSON.stringify(a) === JSON.stringify(b)) continue
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
      out.push(...diff(a as Snapshot, b as Snapshot, `${prefix}${key}.`))
    } else out.push(`${prefix}${key}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`)
  }
  return out
}

/** Directories of a data directory whose files change by themselves (WAL, replay, statistics, caches). */
const CHURN = new Set([
  'base',
  'global',
  'pg_wal',
  'pg_stat',
  'pg_stat_tmp',
  'pg_xact',
  'pg_subtrans',
  'pg_multixact',
  'pg_notify',
  'pg_serial',
  'pg_logical',
  'pg_commit_ts',
  'pg_dynshmem',
  'postmaster.pid',
  'postmaster.opts',
  'log',
])

function listFiles(dir: string, skip: ReadonlySet<string>, out: Record<string, string>, root = dir): void {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    if (dir === root && skip.has(name)) continue
    const file = path.join(dir, name)
    let stat: ReturnType<typeof statSync>
    try {
      stat = statSync(file)
    } catch {
      continue
    }
    if (stat.isDirectory()) listFiles(file, skip, out, root)
    else out[path.relative(root, file)] = `${stat.size}@${stat.mtimeMs}`
  }
}

const SESSION_SNAPSHOT = `SELECT json_build_object(
  'settings', (SELECT json_object_agg(name, setting) FROM pg_settings WHERE source <> 'default'),
  'custom settings', json_build_object(%CUSTOM%),
  'current_user', current_user::text,
  'session_user', session_user::text,
  'prepared statements', (SELECT count(*) FROM pg_prepared_statements),
  'cursors', (SELECT count(*) FROM pg_cursors),
  'listen channels', (SELECT count(*) FROM pg_listening_channels()),
  'temporary schema', pg_my_temp_schema()::int
  %EXTRA%) AS s`

/**
 * Runs statements on a fresh standby session each and judges them ({@link StandbyVerdict}). Needs a superuser
 * (pg_settings in full, pg_ls_dir, other sessions' locks). Call {@link start} first and {@link stop} at the end.
 */
export class StandbyOracle {
  readonly #cluster: Cluster
  readonly #standby: ClusterNode
  readonly #filesDirs: readonly string[]
  readonly #log: readonly ClusterLogEntry[] | undefined
  readonly #customSettings: readonly string[]
  readonly #watched: readonly string[]
  #observer: pg.Client | undefined
  #serverSnapshot = ''
  #sessionSnapshot = ''

  /**
   * @param filesDirs directories (besides the standby's data directory) where statements may write files.
   * @param log the cluster's log entries as they arrive (its `log` option), to see what a session logs; absent
   *   on an external cluster.
   * @param customSettings names of custom settings (`app.x`) statements may set: pg_settings does not list
   *   custom placeholders, so they are read by name.
   * @param watched tables whose buffers on the standby are counted: fewer of them after a statement means it
   *   evicted them (the count over all buffers moves with every session's catalog reads). They are read before
   *   each statement, so that there is something to evict.
   */
  constructor(
    cluster: Cluster,
    filesDirs: readonly string[] = [],
    log?: readonly ClusterLogEntry[],
    customSettings: readonly string[] = [],
    watched: readonly string[] = [],
  ) {
    this.#cluster = cluster
    this.#standby = cluster.replicas[0]!
    this.#filesDirs = filesDirs
    this.#log = log
    this.#customSettings = customSettings
    this.#watched = watched
  }

  /** Connects the observer session and finds what the standby can report (views with `stats_reset`, extensions). */
  async start(): Promise<void> {
    this.#observer = await this.#connect(this.#standby)
    const { rows: views } = await this.#observer.query<{ view: string }>(
      `SELECT DISTINCT table_name AS view FROM information_schema.columns
        WHERE table_schema = 'pg_catalog' AND column_name = 'stats_reset' ORDER BY 1`,
    )
    const { rows: extensions } = await this.#observer.query<{ extname: string }>(
      'SELECT extname FROM pg_extension',
    )
    const installed = new Set(extensions.map((row) => row.extname))
    const resets = views.map(({ view }) => `'${view}', (SELECT max(stats_reset) FROM pg_catalog.${view})`)
    const watched = this.#watched.map((name) => `'${name.replaceAll("'", "''")}'`).join(', ')
    const buffers = installed.has('pg_buffercache')
      ? `, 'buffers evicted', (SELECT count(*) FROM pg_buffercache WHERE relfilenode IS NOT NULL),
         'watched buffers evicted', (SELECT count(*) FROM pg_buffercache b JOIN pg_class c
           ON b.relfilenode = pg_relation_filenode(c.oid) WHERE c.relname IN (${watched || "''"}))`
      : ''
    this.#serverSnapshot = `SELECT json_build_object(
      'replication slots', (SELECT coalesce(json_agg(slot_name ORDER BY slot_name), '[]') FROM pg_replication_slots),
      'replay', pg_get_wal_replay_pause_state(),
      'configuration loaded', pg_conf_load_time(),
      'started', pg_postmaster_start_time(),
      'in recovery', pg_is_in_recovery(),
      'prepared transactions', (SELECT count(*) FROM pg_prepared_xacts),
      'exported snapshots', (SELECT count(*) FROM pg_ls_dir('pg_snapshots')),
      'scans counted', (SELECT sum(seq_scan + coalesce(idx_scan, 0)) FROM pg_stat_all_tables),
      'statistics reset', json_build_object(${resets.join(', ')})
      ${buffers}) AS s`
    this.#sessionSnapshot = SESSION_SNAPSHOT.replace(
      '%EXTRA%',
      installed.has('dblink') ? `, 'dblink connections', dblink_get_connections()` : '',
    ).replace(
      '%CUSTOM%',
      this.#customSettings.map((name) => `'${name}', current_setting('${name}', true)`).join(', '),
    )
  }

  async stop(): Promise<void> {
    await this.#observer?.end().catch(() => {})
    this.#observer = undefined
  }

  async #connect(node: ClusterNode): Promise<pg.Client> {
    const client = new pg.Client({ ...node.connectionConfig, application_name: 'standby-oracle' })
    client.on('error', () => {})
    client.on('notice', () => {})
    await client.connect()
    return client
  }

  async #server(): Promise<Snapshot> {
    const { rows } = await this.#observer!.query<{ s: Snapshot }>(this.#serverSnapshot)
    const snapshot = rows[0]!.s
    const files: Record<string, string> = {}
    const dataDir = this.#standby.dataDir
    if (dataDir !== undefined) listFiles(dataDir, CHURN, files)
    for (const dir of this.#filesDirs) listFiles(dir, new Set(), files)
    snapshot.files = files
    return snapshot
  }

  /** Lines the session `pid` logged at LOG level since `from` (an index into the log). */
  #logged(pid: number, from: number): string[] {
    const log = this.#log
    if (log === undefined) return []
    return log
      .slice(from)
      .filter(
        (entry) =>
          entry.source === 'postgres' &&
          entry.node === this.#standby.name &&
          entry.message.includes(`[${pid}]`) &&
          / LOG: /.test(entry.message),
      )
      .map((entry) => `logged: ${entry.message.slice(entry.message.indexOf('LOG:'))}`)
  }

  /** Runs `sql` on a fresh standby session and judges what it did. */
  async judge(sql: string, options: JudgeOptions = {}): Promise<StandbyVerdict> {
    const { params, inTransaction = true } = options
    const first = await this.#run(sql, params, false)
    if (first.left.length > 0)
      return { kind: 'state', left: first.left, ...(first.error && { error: first.error }) }
    if (first.error !== undefined) {
      if (first.refused) return { kind: 'refused', error: first.error }
      // A text with transaction control of its own cannot be tried on the primary without committing there.
      if (!inTransaction) return { kind: 'invalid', error: first.error }
      return (await this.#failsOnPrimary(sql, params))
        ? { kind: 'invalid', error: first.error }
        : { kind: 'standby-only-error', error: first.error }
    }
    if (!inTransaction) return { kind: 'clean' }
    const second = await this.#run(sql, params, true)
    if (second.left.length > 0) return { kind: 'state', left: second.left }
    return { kind: 'clean' }
  }

  async #run(
    sql: string,
    params: readonly unknown[] | undefined,
    inTransaction: boolean,
  ): Promise<{ left: string[]; error?: string; refused?: boolean }> {
    const observer = this.#observer!
    const session = await this.#connect(this.#standby)
    let ended = false
    session.on('end', () => {
      ended = true
    })
    const left: string[] = []
    try {
      await session.query("SET statement_timeout = '10s'")
      const pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
      // Read the watched tables first, so that a statement evicting their buffers has buffers to evict.
      for (const table of this.#watched) await observer.query(`SELECT count(*) FROM ${JSON.stringify(table)}`)
      const sessionBefore = (await session.query<{ s: Snapshot }>(this.#sessionSnapshot)).rows[0]!.s
      const serverBefore = await this.#server()
      const logFrom = this.#log?.length ?? 0
      if (inTransaction) await session.query('BEGIN')
      let error: { code?: string; message: string } | undefined
      try {
        await session.query(sql, params === undefined ? undefined : [...params])
      } catch (caught) {
        error = caught as { code?: string; message: string }
      }
      const { rows: activity } = await observer.query<{ state: string | null; xid: string | null }>(
        'SELECT state, backend_xid::text AS xid FROM pg_stat_activity WHERE pid = $1',
        [pid],
      )
      const { rows: locks } = await observer.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'`,
        [pid],
      )
      if (Number(locks[0]!.n) > 0) left.push(`advisory locks: ${locks[0]!.n}`)
      if (activity.length === 0 || ended) left.push('session ended')
      else {
        if (activity[0]!.xid !== null) left.push('transaction id assigned')
        if (!inTransaction && activity[0]!.state?.startsWith('idle in transaction'))
          left.push('transaction left open')
        await session.query('ROLLBACK').catch(() => {})
        const sessionAfter = await session
          .query<{ s: Snapshot }>(this.#sessionSnapshot)
          .then(({ rows }) => rows[0]!.s)
          .catch((caught: unknown) => ({ snapshot: describe(caught) }))
        left.push(...diff(sessionBefore, sessionAfter, 'session: '))
      }
      // The server's log arrives asynchronously: give it a moment before reading what the session logged.
      if (this.#log !== undefined) await new Promise((resolve) => setTimeout(resolve, 20))
      const serverAfter = await this.#server()
      // Reads count scans and fill buffers: only a drop (a reset, an eviction) is an effect.
      for (const key of ['scans counted', 'buffers evicted', 'watched buffers evicted']) {
        if (Number(serverAfter[key]) < Number(serverBefore[key])) {
          left.push(`server: ${key}: ${serverBefore[key]} -> ${serverAfter[key]}`)
        }
        delete serverBefore[key]
        delete serverAfter[key]
      }
      left.push(...diff(serverBefore, serverAfter, 'server: '))
      left.push(...this.#logged(pid, logFrom))
      if (error === undefined) return { left }
      return { left, error: describe(error), refused: isRecoveryRefusal(error) }
    } finally {
      await session.end().catch(() => {})
    }
  }

  /** Whether `sql` fails on the primary too, run there inside BEGIN … ROLLBACK. */
  async #failsOnPrimary(sql: string, params: readonly unknown[] | undefined): Promise<boolean> {
    const session = await this.#connect(this.#cluster.primary)
    try {
      await session.query("BEGIN; SET LOCAL statement_timeout = '10s'")
      return await session.query(sql, params === undefined ? undefined : [...params]).then(
        () => false,
        () => true,
      )
    } finally {
      await session.query('ROLLBACK').catch(() => {})
      await session.end().catch(() => {})
    }
  }
}
