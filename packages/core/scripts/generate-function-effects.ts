/*
 * Generates the classifier's list of functions with effects (src/classify/side-effect-functions.ts) and the
 * verdict on every function it read (test/fixtures/classify-functions.json.gz), from the servers themselves:
 *
 *   node --conditions=pgroute-source --import tsx packages/core/scripts/generate-function-effects.ts \
 *     [--pg-bin /usr/lib/postgresql/15/bin]
 *
 * For each server (the embedded package's PostgreSQL 18, and each `--pg-bin`), it starts a primary and a hot
 * standby, installs every contrib extension the server has, and reads pg_proc. Every function is then called on
 * the standby under the standby oracle of the tests (test/helpers/standby-oracle.ts) with arguments synthesized
 * from its argument types (a volatile one with up to five sets, until one runs): a call the standby refuses, or that leaves session
 * or server state, marks the function. What a call cannot show is decided by rule: a volatile function that no
 * argument set ran without an error has effects (its contract allows them); a stable or immutable one has none
 * (its contract forbids them) unless a call showed one. EFFECTS_NOT_OBSERVED names, with the reason from the
 * server's source, the few functions whose effect no call with synthetic arguments shows (signals to other
 * backends, promotion, session-bound answers). Functions that run SQL text (sql-text-functions.ts) are left to
 * their reader.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { type ClusterLogEntry, startCluster } from '@pgroute/cluster'
import { SQL_TEXT_FUNCTIONS } from '../src/classify/sql-text-functions.js'
import { StandbyOracle, type StandbyVerdict } from '../test/helpers/standby-oracle.js'
import {
  CATALOG_QUERY,
  type CatalogFunction,
  FUNCTION_FIXTURE,
  SKIPPED_EXTENSIONS,
} from './function-catalog.js'
import { serverSources } from './server-catalog.js'

const LIST = new URL('../src/classify/side-effect-functions.ts', import.meta.url)
const FIXTURE = new URL('../test/fixtures/classify-functions.json.gz', import.meta.url)

/**
 * Effects no call with synthetic arguments shows, from the server's source: each function with its reason. Never
 * called where calling would break the run (NEVER_CALL).
 */
const EFFECTS_NOT_OBSERVED: Readonly<Record<string, string>> = {
  pg_promote: 'ends recovery: promotes the standby (xlogfuncs.c)',
  pg_cancel_backend: 'signals another backend (signalfuncs.c)',
  pg_terminate_backend: 'signals another backend (signalfuncs.c)',
  pg_log_backend_memory_contexts:
    'signals a backend to write its memory contexts to the log of the node (mcxtfuncs.c)',
  currval: "answers from the session's sequence state, set by nextval on the primary (sequence.c)",
  lastval: "answers from the session's sequence state, set by nextval on the primary (sequence.c)",
  setseed: "sets the seed of the session's later random() calls (pseudorandomfuncs.c)",
  pg_export_snapshot: 'exports a snapshot other sessions import by name from the same server (snapmgr.c)',
  pg_backup_start: 'starts an online backup of the node (xlogfuncs.c)',
  pg_backup_stop: 'ends an online backup of the node (xlogfuncs.c)',
  cursor_to_xml: 'fetches from a cursor of the session (xml.c)',
  cursor_to_xmlschema: 'reads a cursor of the session (xml.c)',
  pg_prewarm: 'loads relation blocks into the buffers of the node it runs on (pg_prewarm.c)',
  autoprewarm_start_worker: 'starts a background worker on the node (autoprewarm.c)',
  autoprewarm_dump_now: 'writes autoprewarm.blocks on the node (autoprewarm.c)',
  pg_stat_reset_single_table_counters: 'resets statistics of the node (pgstatfuncs.c)',
  pg_stat_reset_single_function_counters: 'resets statistics of the node (pgstatfuncs.c)',
  pg_stat_reset_replication_slot: 'resets statistics of the node (pgstatfuncs.c)',
  pg_stat_reset_subscription_stats: 'resets statistics of the node (pgstatfuncs.c)',
  pg_stat_reset_backend_stats: 'resets statistics of the node (pgstatfuncs.c)',
  pg_stat_reset_slru: 'resets statistics of the node (pgstatfuncs.c)',
  pg_stat_reset_shared: 'resets statistics of the node (pgstatfuncs.c)',
  pg_stat_statements_reset: 'resets statistics of the node (pg_stat_statements.c)',
  pg_wal_replay_pause: 'pauses replay on the node (xlogfuncs.c)',
  pg_wal_replay_resume: 'resumes replay on the node (xlogfuncs.c)',
  pg_reload_conf: 'reloads the configuration of the node (genfile.c)',
  pg_rotate_logfile: 'rotates the log file of the node (syslogger.c)',
  pg_advisory_unlock: 'releases an advisory lock of the session, taken on the primary (lockfuncs.c)',
  pg_advisory_unlock_shared: 'releases an advisory lock of the session, taken on the primary (lockfuncs.c)',
  pg_advisory_unlock_all: 'releases the advisory locks of the session, taken on the primary (lockfuncs.c)',
}

/** Functions never called: calling them would end the run, or wait for what never comes on a standby. */
const NEVER_CALL = new Set(['pg_promote', 'pg_cancel_backend', 'pg_terminate_backend', 'pg_sleep_until'])

/** Return types of functions no SQL statement can call (handlers, trigger functions). */
const NOT_CALLABLE_RETURNS = new Set([
  'trigger',
  'event_trigger',
  'internal',
  'language_handler',
  'fdw_handler',
  'index_am_handler',
  'table_am_handler',
  'tsm_handler',
])

/** Argument types no SQL value can supply. */
const NOT_CALLABLE_ARGS = new Set(['internal'])

/** How many argument sets are tried before a function that fails on all of them is judged by its contract. */
const VARIANTS = 9

/**
 * Sample values by argument type; variant `n` of VARIANTS (the first set that runs without an error decides).
 * `files` is a directory the server may write, for functions that write files.
 */
function sample(type: string, name: string, variant: number, files: string): string {
  if (/pid/.test(name) && /^(integer|bigint)$/.test(type)) return 'pg_backend_pid()'
  const pick = (...values: string[]) => values[variant % values.length]!
  switch (type) {
    case 'smallint':
    case 'integer':
    case 'bigint':
    case 'numeric':
    case 'real':
    case 'double precision':
      return `${pick('1', '0', '0', '1', '0', '100', '2', '0')}::${type}`
    case 'oid':
      return `${pick('4242', "'oracle_t'::regclass::oid", '100', '1', "'oracle_seq'::regclass::oid", '(SELECT min(oid) FROM pg_opclass)')}::oid`
    case 'regclass':
      return `${pick("'oracle_t'", "'oracle_seq'", "'oracle_brin'", "'oracle_gin'", "'oracle_t_pkey'")}::regclass`
    case 'text':
    case 'character varying':
    case 'name':
    case 'character':
    case '"char"':
      return `${pick(`'${files}/oracle'`, "'PG_VERSION'", "'oracle_t'", "'oracle_t_pkey'", "'main'", "'md5'", "'.'", "''", "'relation'")}::${type}`
    case 'text[]':
      return "ARRAY['oracle']::text[]"
    case 'boolean':
      return pick('false', 'true')
    case 'bytea':
      return pick(
        "'\\x00'::bytea",
        "get_raw_page('oracle_t', 0)",
        "get_raw_page('oracle_t_pkey', 1)",
        "'oracle'::bytea",
      )
    case 'timestamp with time zone':
    case 'timestamp without time zone':
    case 'date':
    case 'time without time zone':
    case 'time with time zone':
      return `now()::${type}`
    case 'interval':
      return "'0'::interval"
    case 'json':
    case 'jsonb':
      return `${pick("'{}'", "'[1]'", "'1'")}::${type}`
    case 'xml':
      return "'<a/>'::xml"
    case 'tsvector':
      return "'a'::tsvector"
    case 'tsquery':
      return "'a'::tsquery"
    case 'uuid':
      return 'gen_random_uuid()'
    case 'inet':
    case 'cidr':
      return `'127.0.0.1'::${type}`
    case 'tid':
      return "'(0,1)'::tid"
    case 'int2vector':
      return "'1'::int2vector"
    case 'pg_lsn':
      return "'0/0'::pg_lsn"
    case 'regproc':
    case 'regprocedure':
      return `${pick("'now'", "'now()'")}::${type}`
    case 'regtype':
      return "'integer'::regtype"
    case 'regrole':
      return 'current_user::regrole'
    case 'regnamespace':
      return "'public'::regnamespace"
    case 'regconfig':
    case 'regdictionary':
      return `'simple'::${type}`
    case 'xid':
    case 'xid8':
    case 'cid':
      return `'1'::${type}`
    case 'anyelement':
    case 'anycompatible':
    case 'anynonarray':
    case '"any"':
      return '1'
    case 'anyarray':
    case 'anycompatiblearray':
    case 'integer[]':
    case 'smallint[]':
      return 'ARRAY[1]'
    case 'anyrange':
    case 'anycompatiblerange':
      return 'int4range(1, 2)'
    case 'anymultirange':
    case 'anycompatiblemultirange':
      return 'int4multirange(int4range(1, 2))'
    default:
      return `NULL::${type}`
  }
}

/** How one function was judged. */
interface FunctionVerdict {
  readonly signature: string
  readonly extension: string | null
  readonly volatility: string
  /** `effect` or `read`. */
  readonly verdict: 'effect' | 'read'
  /** Why: what the standby did, or the rule. */
  readonly evidence: string
}

function describeVerdict(verdict: StandbyVerdict): string {
  switch (verdict.kind) {
    case 'clean':
      return 'ran clean'
    case 'state':
      return `left ${verdict.left.slice(0, 2).join('; ').slice(0, 160)}`
    default:
      return `${verdict.kind}: ${verdict.error.slice(0, 160)}`
  }
}

async function judgeFunction(
  oracle: StandbyOracle,
  fn: CatalogFunction,
  files: string,
): Promise<FunctionVerdict> {
  const base = { signature: fn.signature, extension: fn.extension, volatility: fn.volatility }
  const manual = EFFECTS_NOT_OBSERVED[fn.name]
  if (manual !== undefined && NEVER_CALL.has(fn.name))
    return { ...base, verdict: 'effect', evidence: `source: ${manual}` }
  if (fn.kind === 'p') return { ...base, verdict: 'effect', evidence: 'a procedure: CALL is a write' }
  if (fn.kind !== 'f')
    return { ...base, verdict: 'read', evidence: `an ${fn.kind === 'a' ? 'aggregate' : 'window function'}` }
  if (NEVER_CALL.has(fn.name))
    return { ...base, verdict: fn.volatility === 'v' ? 'effect' : 'read', evidence: 'not called: waits' }
  if (NOT_CALLABLE_RETURNS.has(fn.returns) || fn.argTypes.some((type) => NOT_CALLABLE_ARGS.has(type))) {
    // No statement can call it: its name in a text is never a call of it (`TABLESAMPLE system (10)`).
    return { ...base, verdict: 'read', evidence: `not callable from a statement (${fn.returns})` }
  }
  const callee = `${JSON.stringify(fn.schema)}.${JSON.stringify(fn.name)}`
  let first: StandbyVerdict | undefined
  let clean = false
  let exercised = false
  // Only a volatile function may show an effect with other arguments that its first set did not show.
  const variants = fn.volatility === 'v' ? VARIANTS : 1
  for (let variant = 0; variant < variants; variant++) {
    const args = fn.argTypes.map((type, i) => sample(type, fn.argNames[i] ?? '', variant, files))
    const sql = `SELECT ${callee}(${args.join(', ')}) LIMIT 5`
    const verdict = await oracle.judge(sql, { inTransaction: fn.volatility === 'v' })
    first ??= verdict
    if (verdict.kind === 'refused' || verdict.kind === 'state' || verdict.kind === 'standby-only-error') {
      return { ...base, verdict: 'effect', evidence: `standby: ${describeVerdict(verdict)}` }
    }
    // A strict function given a NULL returns NULL without running.
    const ran = !(fn.strict && args.some((arg) => arg.startsWith('NULL::')))
    if (verdict.kind === 'clean' && ran) {
      clean = true
      exercised = true
      break
    }
    if (args.length === 0 || !ran) break
  }
  if (manual !== undefined) return { ...base, verdict: 'effect', evidence: `source: ${manual}` }
  const observed = first === undefined ? 'not run' : exercised ? 'ran clean' : describeVerdict(first)
  if (clean) return { ...base, verdict: 'read', evidence: `standby: ${observed}` }
  if (fn.volatility === 'v')
    return { ...base, verdict: 'effect', evidence: `volatile, no clean call (${observed})` }
  return {
    ...base,
    verdict: 'read',
    evidence: `${fn.volatility === 's' ? 'stable' : 'immutable'} (${observed})`,
  }
}

async function judgeServer(
  binDir: string | undefined,
): Promise<{ major: number; extensions: string[]; functions: FunctionVerdict[] }> {
  const log: ClusterLogEntry[] = []
  const cluster = await startCluster({
    replicas: 1,
    ...(binDir === undefined ? {} : { binDir }),
    log: (entry) => log.push(entry),
  })
  const filesDir = mkdtempSync(path.join(tmpdir(), 'pgroute-functions-'))
  chmodSync(filesDir, 0o777)
  try {
    const { rows: version } = await cluster.primary.query<{ v: string }>(
      "SELECT current_setting('server_version_num') AS v",
    )
    const major = Math.floor(Number(version[0]!.v) / 10_000)
    const { rows: available } = await cluster.primary.query<{ name: string }>(
      'SELECT name FROM pg_available_extensions ORDER BY 1',
    )
    const extensions: string[] = []
    for (const { name } of available) {
      if (SKIPPED_EXTENSIONS.has(name) || name === 'plpgsql') continue
      const installed = await cluster.primary.query(`CREATE EXTENSION IF NOT EXISTS "${name}" CASCADE`).then(
        () => true,
        (error: Error) => {
          console.info(`PostgreSQL ${major}: extension ${name} not installed: ${error.message}`)
          return false
        },
      )
      if (installed) extensions.push(name)
    }
    for (const sql of FUNCTION_FIXTURE) await cluster.primary.query(sql)
    await cluster.waitForReplication()
    const { rows: functions } = await cluster.primary.query<CatalogFunction>(CATALOG_QUERY)
    const oracle = new StandbyOracle(cluster, [filesDir], log, [], ['oracle_t'])
    await oracle.start()
    const verdicts: FunctionVerdict[] = []
    const standby = cluster.replicas[0]!
    for (const [index, fn] of functions.entries()) {
      if (index % 500 === 0) console.info(`PostgreSQL ${major}: ${index} / ${functions.length}`)
      // Fill the standby's buffers with the fixture table, so that evicting them shows.
      if (fn.volatility === 'v') await standby.query('SELECT count(*) FROM oracle_t')
      verdicts.push(await judgeFunction(oracle, fn, filesDir))
      // Undo what a call may have left on the standby for the next ones: paused replay.
      await standby.query('SELECT pg_wal_replay_resume()').catch(() => {})
    }
    await oracle.stop()
    return { major, extensions: extensions.sort(), functions: verdicts }
  } finally {
    await cluster.stop()
    rmSync(filesDir, { recursive: true, force: true })
  }
}

function nameOf(signature: string): string {
  const open = signature.indexOf('(')
  const dot = signature.lastIndexOf('.', open)
  return JSON.parse(signature.slice(dot + 1, open).replace(/^([^"].*)$/, '"$1"')) as string
}

/**
 * The verdict on each name, over its overloads on every server: effects when a call showed one or the source says
 * so; else a read when some overload ran cleanly (the others failed on their synthetic arguments only); else the
 * verdict of its overloads by their contracts. Names of functions that run SQL text are left to their reader.
 */
function judgeNames(
  servers: ReadonlyArray<{ readonly major: number; readonly functions: readonly FunctionVerdict[] }>,
  readers: ReadonlySet<string>,
): Record<string, { verdict: 'effect' | 'read'; evidence: string }> {
  const overloads = new Map<string, string[]>()
  const shown = new Map<string, string>()
  const clean = new Map<string, string>()
  const byContract = new Map<string, string>()
  for (const server of servers) {
    for (const fn of server.functions) {
      const name = nameOf(fn.signature)
      const evidence = `${fn.extension ?? 'built-in'}, ${server.major}: ${fn.evidence}`
      overloads.set(name, [...(overloads.get(name) ?? []), evidence])
      const observed =
        fn.evidence.startsWith('standby:') ||
        fn.evidence.startsWith('source:') ||
        fn.evidence.startsWith('a procedure')
      if (fn.verdict === 'effect' && observed && !shown.has(name)) shown.set(name, evidence)
      if (fn.verdict === 'read' && fn.evidence === 'standby: ran clean' && !clean.has(name))
        clean.set(name, evidence)
      if (fn.verdict === 'effect' && !byContract.has(name)) byContract.set(name, evidence)
    }
  }
  const out: Record<string, { verdict: 'effect' | 'read'; evidence: string }> = {}
  for (const name of [...overloads.keys()].sort()) {
    if (readers.has(name))
      out[name] = { verdict: 'read', evidence: 'runs SQL text: sql-text-functions.ts reads it' }
    else if (shown.has(name)) out[name] = { verdict: 'effect', evidence: shown.get(name)! }
    else if (clean.has(name)) out[name] = { verdict: 'read', evidence: clean.get(name)! }
    else if (byContract.has(name)) out[name] = { verdict: 'effect', evidence: byContract.get(name)! }
    else out[name] = { verdict: 'read', evidence: overloads.get(name)![0]! }
  }
  return out
}

async function main(): Promise<void> {
  const servers: Array<Awaited<ReturnType<typeof judgeServer>>> = []
  for (const source of serverSources(process.argv.slice(2))) servers.push(await judgeServer(source.binDir))
  const readers = new Set([...SQL_TEXT_FUNCTIONS.values()].map(([name]) => name))
  const names = judgeNames(servers, readers)
  const effects = new Map(
    Object.entries(names)
      .filter(([, name]) => name.verdict === 'effect')
      .map(([name, { evidence }]) => [name, evidence]),
  )
  const listed = [...effects.keys()].sort()
  const majors = servers.map((server) => server.major).join(', ')
  const text = `/*
 * GENERATED by packages/core/scripts/generate-function-effects.ts: do not edit. The functions of PostgreSQL ${majors}
 * and of their contrib extensions whose calls need the primary, each with the evidence for it (the first overload and
 * server that showed one): called on a hot standby, it was refused or left state; or it is volatile and no call
 * ran cleanly; or the server's source says so. Every verdict is in test/fixtures/classify-functions.json.gz.
 */

/** Names of functions with effects (see the file comment), in ASCII order. */
export const SIDE_EFFECT_FUNCTIONS: readonly string[] = [
${listed.map((name) => `  '${name}', // ${effects.get(name)!.replaceAll('\n', ' ').replaceAll('*/', '* /')}`).join('\n')}
]
`
  writeFileSync(LIST, text)
  const fixture = {
    names,
    ...Object.fromEntries(
      servers.map((server) => [server.major, { extensions: server.extensions, functions: server.functions }]),
    ),
  }
  writeFileSync(FIXTURE, gzipSync(JSON.stringify(fixture), { level: 9 }))
  for (const server of servers) {
    const effect = server.functions.filter((fn) => fn.verdict === 'effect').length
    console.info(`PostgreSQL ${server.major}: ${server.functions.length} functions, ${effect} with effects`)
  }
  console.info(`${listed.length} names written to ${LIST.pathname}`)
}

await main()
