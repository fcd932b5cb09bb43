import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Cluster, ClusterLogEntry } from '@pgroute/cluster'
import { clusterEnvConfigured, requireControl, startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type Classification, createClassifier } from '../src/classify/index.js'
import {
  ORACLE_CUSTOM_SETTINGS,
  ORACLE_EXTENSIONS,
  ORACLE_SCHEMA,
  ORACLE_WRITE_FUNCTIONS,
  type OracleEntry,
  oracleStatements,
} from './corpus/standby-statements.js'
import { CORPUS_SCHEMA, STANDBY_CORPUS } from './fixtures/classify-standby-corpus.js'
import { loadClassifyCorpus } from './helpers/classify-corpus.js'
import { judge, loadOracle } from './helpers/parse-tree-oracle.js'
import {
  isRecoveryRefusal,
  replicaSafe,
  StandbyOracle,
  type StandbyVerdict,
} from './helpers/standby-oracle.js'

/*
 * Ground truth for the classifier is a real hot standby (helpers/standby-oracle.ts): every statement of the corpus
 * runs on a fresh standby session, and its session and server state are compared before and after. Whatever the
 * standby refuses, or whatever leaves state behind, must go to the primary; whatever it runs cleanly should go to
 * a replica, unless the corpus documents why not. The corpus: the hand-written statements of
 * fixtures/classify-standby-corpus.ts and the generated adversarial ones of corpus/standby-statements.ts.
 * Set PGROUTE_CORPUS_REPORT=1 to print every verdict.
 */

const external = clusterEnvConfigured()
const NEEDS =
  'a superuser and the local cluster (session and server state, the standby log, its data directory)'

let cluster: Cluster
let oracle: StandbyOracle
let filesDir: string
const log: ClusterLogEntry[] = []
const classifier = createClassifier({ writeFunctions: ORACLE_WRITE_FUNCTIONS, cacheSize: 0 })

interface Judged {
  readonly entry: OracleEntry
  readonly verdict: StandbyVerdict
  readonly classification: Classification
}
const judged: Judged[] = []

/** The hand-written corpus, with its `primary` statements documented as the primary by design. */
function fixtureEntries(): OracleEntry[] {
  return STANDBY_CORPUS.map((entry) => ({
    sql: entry.sql,
    kind: `hand-written ${entry.expect}`,
    ...(entry.params && { params: entry.params }),
    ...(entry.expect === 'primary' && {
      note: 'design: session state, transaction control, server files and advisory locks go to the primary' as const,
    }),
  }))
}

function transactionControl(classification: Classification): boolean {
  return classification.transaction !== undefined || classification.reason.startsWith('transaction')
}

/** What the standby saw, without what the classification itself accounts for. */
function effectiveVerdict(verdict: StandbyVerdict, classification: Classification): StandbyVerdict {
  // A READ ONLY transaction left open is the point of `BEGIN READ ONLY` on a replica: the session stays there.
  if (verdict.kind !== 'state' || classification.transaction !== 'begin-read-only') return verdict
  const left = verdict.left.filter((item) => item !== 'transaction left open')
  return left.length === 0 ? { kind: 'clean' } : { ...verdict, left }
}

function show(item: Judged): string {
  const { verdict, classification, entry } = item
  const detail =
    verdict.kind === 'state' ? verdict.left.join('; ') : verdict.kind === 'clean' ? '' : verdict.error
  const sql = entry.sql.replaceAll(/password=\S+/g, 'password=***')
  return `[${entry.kind}] ${verdict.kind} (${detail.slice(0, 160)}) -> ${classification.target} ${classification.reason}: ${sql.slice(0, 200)}`
}

beforeAll(async () => {
  if (external) return
  cluster = await startTestCluster({ replicas: 1, log: (entry) => log.push(entry) })
  filesDir = mkdtempSync(path.join(tmpdir(), 'pgroute-oracle-'))
  chmodSync(filesDir, 0o777)
  for (const sql of CORPUS_SCHEMA) await cluster.primary.query(sql)
  const { rows } = await cluster.primary.query<{ name: string }>('SELECT name FROM pg_available_extensions')
  const available = new Set(rows.map((row) => row.name))
  for (const name of ORACLE_EXTENSIONS)
    if (available.has(name)) await cluster.primary.query(`CREATE EXTENSION ${name}`)
  for (const sql of ORACLE_SCHEMA) await cluster.primary.query(sql)
  await cluster.waitForReplication()
  oracle = new StandbyOracle(cluster, [filesDir], log, ORACLE_CUSTOM_SETTINGS, ['items'])
  await oracle.start()
  const standby = cluster.replicas[0]!.connectionConfig
  const dblink = `host=127.0.0.1 port=${standby.port} dbname=${standby.database} user=${standby.user} password=${standby.password}`
  for (const entry of [...fixtureEntries(), ...oracleStatements()]) {
    const sql = entry.sql.replaceAll('%DBLINK%', dblink).replaceAll('%FILES%', filesDir)
    const classification = classifier.classify(sql)
    const inTransaction = !entry.transactionControl && !transactionControl(classification)
    const verdict = await oracle.judge(sql, { ...(entry.params && { params: entry.params }), inTransaction })
    judged.push({
      entry: { ...entry, sql },
      verdict: effectiveVerdict(verdict, classification),
      classification,
    })
  }
  if (process.env.PGROUTE_CORPUS_REPORT) {
    const counts = new Map<string, number>()
    for (const { entry, verdict, classification } of judged) {
      const key = `${entry.kind} | ${verdict.kind} -> ${classification.target}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    console.info(
      [...counts]
        .sort()
        .map(([key, n]) => `${String(n).padStart(4)} ${key}`)
        .join('\n'),
    )
    console.info(judged.map(show).join('\n'))
  }
}, 900_000)

afterAll(async () => {
  await oracle?.stop()
  await cluster?.stop()
  if (filesDir) rmSync(filesDir, { recursive: true, force: true })
})

describe(`classifier against a hot standby (skipped on an external cluster: needs ${NEEDS})`, () => {
  beforeEach((context) =>
    requireControl(context, `runs statements on a hot standby as a superuser (${NEEDS})`),
  )
  it('has an adversarial corpus of more than 500 statements in every class', () => {
    expect(judged.length).toBeGreaterThan(500)
    const kinds = new Set(judged.map(({ entry }) => entry.kind))
    for (const kind of [
      'SQL inside string arguments',
      'continued literals',
      'keywords as names',
      'function position',
      'function spelling',
      'function names as names',
      'hints',
      'EXPLAIN ANALYZE spellings',
      'hidden in objects',
    ]) {
      expect(kinds).toContain(kind)
    }
    for (const kind of ['clean', 'refused', 'state'] as const) {
      expect(judged.filter(({ verdict }) => verdict.kind === kind).length).toBeGreaterThan(50)
    }
  })

  it('sends nothing the standby refuses or that leaves state to a replica (but the documented limits)', () => {
    const unsafe = judged.filter(
      ({ verdict, classification, entry }) =>
        !replicaSafe(verdict) && classification.target === 'replica' && !entry.note?.startsWith('limit:'),
    )
    expect(unsafe.map(show)).toEqual([])
  })

  it('sends what the standby runs cleanly to a replica, unless documented', () => {
    const lost = judged.filter(
      ({ verdict, classification, entry }) =>
        verdict.kind === 'clean' && classification.target === 'primary' && entry.note === undefined,
    )
    expect(lost.map(show)).toEqual([])
  })

  it('documents only limits and designs that are real', () => {
    // The hand-written statements the primary takes by design may also be refused or leave state.
    const stale = judged.filter(({ verdict, entry }) =>
      entry.note?.startsWith('limit:')
        ? replicaSafe(verdict)
        : entry.note !== undefined && verdict.kind !== 'clean' && !entry.kind.startsWith('hand-written'),
    )
    expect(stale.map(show)).toEqual([])
  })

  it('needs writeFunctions to know a user function writes', async () => {
    const sql = `SELECT app_write('unlisted')`
    expect((await oracle.judge(sql)).kind).toBe('refused')
    expect(createClassifier().classify(sql).target).toBe('replica')
    expect(classifier.classify(sql).target).toBe('primary')
  })
})

/** Tables and sequences the torture and ORM statements of the differential corpus name. */
const DIFFERENTIAL_SCHEMA: readonly string[] = [
  'CREATE TABLE t (id int, x int, a int, b int, "UPDATE" int)',
  'CREATE SEQUENCE s',
  'CREATE TABLE person (id serial PRIMARY KEY, first_name text, last_name text, age int, created_at timestamptz)',
  'CREATE TABLE pet (id serial PRIMARY KEY, owner_id int, name text, species text)',
  'CREATE TABLE users (id serial PRIMARY KEY, name text, email text, age int, created_at timestamp)',
  'CREATE TABLE posts (id serial PRIMARY KEY, author_id int, title text)',
  'CREATE TABLE "User" (id serial PRIMARY KEY, email text, name text, "createdAt" timestamptz)',
  'CREATE TABLE "Post" (id serial PRIMARY KEY, title text, published boolean, "authorId" int)',
  'CREATE TABLE job (id serial PRIMARY KEY, queue text, payload jsonb, run_at timestamptz, locked_by text)',
]

/**
 * A sample of the differential corpus: all of its torture and ORM statements, and every 25th regression
 * statement, that the classifier sends to a replica.
 */
function replicaBound(): string[] {
  const { sources } = loadClassifyCorpus()
  const sample = Object.entries(sources).flatMap(([source, texts]) =>
    source.endsWith('-regress') ? texts.filter((_, index) => index % 25 === 0) : texts,
  )
  return sample.filter((sql) => classifier.classify(sql).target === 'replica')
}

describe('the differential corpus against a hot standby', () => {
  beforeEach((context) =>
    requireControl(context, `runs statements on a hot standby as a superuser (${NEEDS})`),
  )
  it('has the standby run every sampled statement the classifier sends there, leaving no state', async () => {
    for (const sql of DIFFERENTIAL_SCHEMA) await cluster.primary.query(sql)
    await cluster.waitForReplication()
    await loadOracle()
    const texts = replicaBound()
    expect(texts.length).toBeGreaterThan(1000)
    const unsafe: string[] = []
    let client: pg.Client | undefined
    for (const sql of texts) {
      if (client === undefined) {
        client = new pg.Client(cluster.replicas[0]!.connectionConfig)
        client.on('error', () => {})
        await client.connect()
        await client.query("SET statement_timeout = '2s'")
      }
      const error = await client.query(sql).then(
        () => undefined,
        (caught: Error) => caught,
      )
      if (error !== undefined && isRecoveryRefusal(error)) unsafe.push(`refused (${error.message}): ${sql}`)
      // What a statement left in the session: an open transaction, locks, settings, cursors, listeners.
      const { rows } = await client
        .query<{ locks: string; cursors: string; listening: string; prepared: string; settings: string }>(
          `SELECT (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory') AS locks,
                  (SELECT count(*) FROM pg_cursors) AS cursors,
                  (SELECT count(*) FROM pg_listening_channels()) AS listening,
                  (SELECT count(*) FROM pg_prepared_statements) AS prepared,
                  (SELECT count(*) FROM pg_settings WHERE source = 'session' AND name <> 'statement_timeout') AS settings`,
        )
        .catch(() => ({ rows: [] }))
      const left = rows[0]
      const opened =
        sql.trim().toUpperCase().startsWith('BEGIN READ ONLY') || judge(sql).transaction === 'begin-read-only'
      if (left === undefined && !opened) unsafe.push(`left the transaction aborted or open: ${sql}`)
      else if (left !== undefined && Object.values(left).some((n) => Number(n) > 0)) {
        unsafe.push(`left ${JSON.stringify(left)}: ${sql}`)
      }
      // Start the next statement clean.
      const reset = await client
        .query('ROLLBACK; RESET ALL; CLOSE ALL; UNLISTEN *; DEALLOCATE ALL; SELECT pg_advisory_unlock_all()')
        .then(
          () => true,
          () => false,
        )
      if (!reset) {
        await client.end().catch(() => {})
        client = undefined
      }
    }
    await client?.end()
    console.info(`differential statements run on the standby: ${texts.length}, unsafe: ${unsafe.length}`)
    expect(unsafe).toEqual([])
  }, 300_000)
})
