/**
 * Read-after-write on a primary with two replicas, one of which applies WAL 2 s late (within pgroute's default
 * lag bound of 10 s, so it keeps taking reads). 8 callers each loop: increment their own counter on the primary,
 * then read it back at once. A read that returns less than was just written is stale.
 *
 * Side by side: pgroute inside `router.session()` (read-your-writes), pgroute outside a session, and the naive
 * split ORMs offer — Drizzle's `withReplicas` and kysely-replication, both picking a random replica for reads.
 * Figures: share of reads served by replicas, share served by the delayed one, and stale reads.
 * `BENCH_RAW_MS` (4000) sets how long each contender runs.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/read-after-write.ts`
 */
import type { Cluster } from '@pgroute/cluster'
import { createRouter } from '@pgroute/core'
import { eq, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, withReplicas } from 'drizzle-orm/pg-core'
import { Kysely, PostgresDialect } from 'kysely'
import { KyselyReplicationDialect } from 'kysely-replication'
import { RandomReplicaStrategy } from 'kysely-replication/strategy/random'
import pg from 'pg'
import { envNumber, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'

export const name = 'read-after-write'

const WORKERS = 8
const POOL_SIZE = 10

/** One write-then-read cycle: returns what was written and what the read saw, and which server answered. */
type Cycle = (id: number) => Promise<{ written: number; read: number; port: number }>

interface Contender {
  readonly name: string
  readonly cycle: Cycle
  readonly close: () => Promise<void>
}

const counters = pgTable('counters', { id: integer('id').primaryKey(), v: integer('v').notNull() })

interface Database {
  counters: { id: number; v: number }
}

const WRITE = 'UPDATE counters SET v = v + 1 WHERE id = $1 RETURNING v'
const READ = 'SELECT v, inet_server_port() AS port FROM counters WHERE id = $1'

function quietPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE })
  // pool.end() resolves before its connections close; the server's goodbye as the cluster stops is expected.
  pool.on('error', () => {})
  return pool
}

async function pgroute(cluster: Cluster, inSession: boolean): Promise<Contender> {
  const router = createRouter({
    primary: cluster.primary.url,
    replicas: cluster.replicas.map((replica) => replica.url),
    pool: { max: POOL_SIZE },
  })
  await router.ready()
  const cycle: Cycle = async (id) => {
    const { rows } = await router.query<{ v: number }>(WRITE, [id])
    const read = await router.query<{ v: number; port: number }>(READ, [id])
    return { written: rows[0]!.v, read: read.rows[0]!.v, port: read.rows[0]!.port }
  }
  return {
    name: inSession ? 'pgroute, router.session()' : 'pgroute, no session',
    cycle: inSession ? (id) => router.session(() => cycle(id)) : cycle,
    close: () => router.end(),
  }
}

function drizzleReplicas(cluster: Cluster): Contender {
  const pools = [cluster.primary, ...cluster.replicas].map((node) => quietPool(node.url))
  const [primary, ...replicas] = pools.map((pool) => drizzle({ client: pool }))
  const db = withReplicas(primary!, [replicas[0]!, ...replicas.slice(1)])
  return {
    name: 'Drizzle withReplicas (random)',
    cycle: async (id) => {
      const [written] = await db
        .update(counters)
        .set({ v: sql`${counters.v} + 1` })
        .where(eq(counters.id, id))
        .returning({ v: counters.v })
      const [read] = await db
        .select({ v: counters.v, port: sql<number>`inet_server_port()` })
        .from(counters)
        .where(eq(counters.id, id))
      return { written: written!.v, read: read!.v, port: Number(read!.port) }
    },
    close: async () => {
      await Promise.all(pools.map((pool) => pool.end()))
    },
  }
}

function kyselyReplication(cluster: Cluster): Contender {
  const dialect = (url: string) => new PostgresDialect({ pool: quietPool(url) })
  const [first, ...others] = cluster.replicas.map((replica) => dialect(replica.url))
  const db = new Kysely<Database>({
    dialect: new KyselyReplicationDialect({
      primaryDialect: dialect(cluster.primary.url),
      replicaDialects: [first!, ...others],
      replicaStrategy: new RandomReplicaStrategy(),
    }),
  })
  return {
    name: 'kysely-replication (random)',
    cycle: async (id) => {
      const written = await db
        .updateTable('counters')
        .set((eb) => ({ v: eb('v', '+', 1) }))
        .where('id', '=', id)
        .returning('v')
        .executeTakeFirstOrThrow()
      const read = await db
        .selectFrom('counters')
        .select(['v', (eb) => eb.fn<number>('inet_server_port').as('port')])
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
      return { written: written.v, read: read.v, port: Number(read.port) }
    },
    close: () => db.destroy(),
  }
}

async function measure(cluster: Cluster, contender: Contender, ms: number): Promise<BenchRow> {
  const delayedPort = cluster.replicas[1]!.port
  const replicaPorts = new Set(cluster.replicas.map((replica) => replica.port))
  let cycles = 0
  let stale = 0
  let onReplicas = 0
  let onDelayed = 0
  const started = performance.now()
  const deadline = started + ms
  try {
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        while (performance.now() < deadline) {
          const { written, read, port } = await contender.cycle(worker + 1)
          cycles++
          if (read < written) stale++
          if (replicaPorts.has(port)) onReplicas++
          if (port === delayedPort) onDelayed++
        }
      }),
    )
  } finally {
    await contender.close()
  }
  const seconds = (performance.now() - started) / 1000
  const percent = (count: number) => Number(((100 * count) / cycles).toFixed(1))
  return {
    bench: name,
    contender: contender.name,
    'write+read cycles': cycles,
    'cycles/s': Math.round(cycles / seconds),
    'reads on replicas %': percent(onReplicas),
    'reads on delayed replica %': percent(onDelayed),
    'stale reads': stale,
    'stale %': percent(stale),
  }
}

/** Runs every contender in turn on one cluster. */
export async function run(): Promise<BenchRow[]> {
  const ms = envNumber('BENCH_RAW_MS', 4000)
  return withCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] }, async (cluster) => {
    await cluster.primary.query(
      `CREATE TABLE counters (id integer PRIMARY KEY, v integer NOT NULL);
       INSERT INTO counters SELECT g, 0 FROM generate_series(1, ${WORKERS}) g`,
    )
    await cluster.waitForReplication({ replicas: cluster.replicas })
    const rows: BenchRow[] = []
    rows.push(await measure(cluster, await pgroute(cluster, true), ms))
    rows.push(await measure(cluster, await pgroute(cluster, false), ms))
    rows.push(await measure(cluster, drizzleReplicas(cluster), ms))
    rows.push(await measure(cluster, kyselyReplication(cluster), ms))
    return rows
  })
}

if (isMain(import.meta.url)) console.table(await run())
