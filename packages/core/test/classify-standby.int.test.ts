import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createClassifier } from '../src/classify/index.js'
import {
  CORPUS_SCHEMA,
  CORPUS_WRITE_FUNCTIONS,
  type CorpusEntry,
  STANDBY_CORPUS,
} from './fixtures/classify-standby-corpus.js'
import { loadClassifyCorpus } from './helpers/classify-corpus.js'
import { judge, loadOracle } from './helpers/parse-tree-oracle.js'

/*
 * Ground truth for the classifier is a real hot standby: whatever it refuses as a write must go to the primary,
 * and every read of the corpus must run there and be routed there.
 */

type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: pg.DatabaseError | Error }

/** The standby refused the statement because it cannot write (as opposed to any other error). */
function isHotStandbyRejection(outcome: Outcome): boolean {
  if (outcome.ok) return false
  const { error } = outcome
  return (
    (error as pg.DatabaseError).code === '25006' ||
    /during recovery|recovery is in progress|hot standby/i.test(error.message)
  )
}

function describeOutcome(outcome: Outcome): string {
  if (outcome.ok) return 'ok'
  return `${(outcome.error as pg.DatabaseError).code ?? 'no code'}: ${outcome.error.message}`
}

let cluster: Cluster

/** Runs one text on a fresh replica connection, so no statement sees another's session state. */
async function runOnReplica(sql: string, params?: readonly unknown[]): Promise<Outcome> {
  const client = new pg.Client(cluster.replicas[0]!.connectionConfig)
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query(sql, params === undefined ? undefined : [...params])
    return { ok: true }
  } catch (error) {
    return { ok: false, error: error as Error }
  } finally {
    await client.end()
  }
}

const classifier = createClassifier({ writeFunctions: CORPUS_WRITE_FUNCTIONS })
const report: string[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 })
  for (const sql of CORPUS_SCHEMA) await cluster.primary.query(sql)
  await cluster.waitForReplication()
})

afterAll(async () => {
  await cluster?.stop()
  if (process.env.PGROUTE_CORPUS_REPORT) console.info(report.join('\n'))
})

describe('classifier against a hot standby', () => {
  beforeEach((context) =>
    requireControl(
      context,
      'a superuser on PostgreSQL 16+ (superuser-only functions, EXPLAIN (GENERIC_PLAN))',
    ),
  )
  it('has a corpus of more than 100 statements of every kind', () => {
    expect(STANDBY_CORPUS.length).toBeGreaterThan(100)
    for (const kind of ['read', 'write', 'primary'] as const) {
      expect(STANDBY_CORPUS.filter((entry) => entry.expect === kind).length).toBeGreaterThan(10)
    }
    expect(new Set(STANDBY_CORPUS.map((entry) => entry.sql)).size).toBe(STANDBY_CORPUS.length)
  })

  it.each(STANDBY_CORPUS.map((entry) => [entry.expect, entry.sql, entry] as const))(
    '%s: %s',
    async (_expect, sql, entry: CorpusEntry) => {
      const outcome = await runOnReplica(sql, entry.params)
      const classification = classifier.classify(sql)
      report.push(
        `${entry.expect.padEnd(7)} ${classification.target.padEnd(7)} ${describeOutcome(outcome)} | ${sql}`,
      )

      if (isHotStandbyRejection(outcome))
        expect(classification.target, describeOutcome(outcome)).toBe('primary')
      switch (entry.expect) {
        case 'read':
          expect(outcome.ok ? 'ok' : describeOutcome(outcome)).toBe('ok')
          expect(classification.target).toBe('replica')
          break
        case 'write':
          expect(isHotStandbyRejection(outcome), describeOutcome(outcome)).toBe(true)
          expect(classification.target).toBe('primary')
          break
        case 'primary':
          expect(classification.target).toBe('primary')
          break
      }
    },
  )

  it('needs writeFunctions to know a user function writes', async () => {
    const sql = `SELECT app_write('unlisted')`
    expect(isHotStandbyRejection(await runOnReplica(sql))).toBe(true)
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
 * statement, that the oracle calls reads.
 */
function oracleReads(): string[] {
  const { sources } = loadClassifyCorpus()
  const sample = Object.entries(sources).flatMap(([source, texts]) =>
    source.endsWith('-regress') ? texts.filter((_, index) => index % 25 === 0) : texts,
  )
  return sample.filter((sql) => judge(sql).kind === 'read')
}

describe('the differential oracle against a hot standby', () => {
  it('has the standby run every sampled statement the oracle calls a read', async () => {
    for (const sql of DIFFERENTIAL_SCHEMA) await cluster.primary.query(sql)
    await cluster.waitForReplication()
    await loadOracle()
    const reads = oracleReads()
    expect(reads.length).toBeGreaterThan(1000)
    const refused: string[] = []
    let client: pg.Client | undefined
    for (const sql of reads) {
      if (client === undefined) {
        client = new pg.Client(cluster.replicas[0]!.connectionConfig)
        client.on('error', () => {})
        await client.connect()
        await client.query("SET statement_timeout = '2s'")
      }
      const outcome: Outcome = await client.query(sql).then(
        () => ({ ok: true }),
        (error: Error) => ({ ok: false, error }),
      )
      if (isHotStandbyRejection(outcome)) refused.push(`${describeOutcome(outcome)} | ${sql}`)
      // A statement may leave a transaction open or end the connection: start the next one clean.
      const reset = await client.query('ROLLBACK; RESET ALL').then(
        () => true,
        () => false,
      )
      if (!reset) {
        await client.end().catch(() => {})
        client = undefined
      }
    }
    await client?.end()
    report.push(`oracle reads run on the standby: ${reads.length}, refused: ${refused.length}`)
    expect(refused).toEqual([])
  }, 180_000)
})
