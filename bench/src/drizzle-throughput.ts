/**
 * Drizzle over pgroute (`pgrouteDrizzle(router)`) vs Drizzle over a plain `pg.Pool`, both against one and the same
 * PostgreSQL server, same pool size, 16 concurrent callers running point selects: the throughput pgroute's routing
 * costs (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with one replica, whose reads all land on that replica (the read path: classification,
 * replica choice, lag-aware lease), and a router with a primary only, where `db.$primary` is measured too. Rounds
 * alternate between the clients (see `interleaved` in bench-kit.ts); the ratio is the median of the per-round
 * ratios. A second Drizzle over an identical plain pool is measured too: its ratio shows how far apart two equal
 * clients come out on this machine. Besides throughput, the CPU time this process spends per query is compared
 * (`CPU ratio` = plain pool's CPU per query / the client's). `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `pnpm exec tsx --conditions=pgroute-source bench/src/drizzle-throughput.ts`
 */
import type { Cluster, ClusterNode } from '@pgroute/cluster'
import { createRouter } from '@pgroute/core'
import { pgrouteDrizzle } from '@pgroute/drizzle'
import { eq } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, text } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { type BenchRow, interleaved, isMain, roundMs, rounds, withCluster } from './bench-kit.js'

export const name = 'drizzle-throughput'

const CONCURRENCY = 16
/** The router's default pool settings, given to every pool compared. */
const POOL = { max: 10, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 5000 } as const
const ROWS = 1000

const items = pgTable('bench_items', {
  id: integer('id').primaryKey(),
  label: text('label').notNull(),
})

async function seed(cluster: Cluster): Promise<void> {
  await cluster.primary.query(`CREATE TABLE bench_items (id integer PRIMARY KEY, label text NOT NULL);
    INSERT INTO bench_items SELECT g, 'item ' || g FROM generate_series(1, ${ROWS}) AS g;
    ANALYZE bench_items`)
  await cluster.waitForReplication()
}

function pointSelect(db: Pick<ReturnType<typeof drizzle>, 'select'>): (call: number) => Promise<void> {
  return async (call) => {
    const id = (call % ROWS) + 1
    const rows = await db.select().from(items).where(eq(items.id, id))
    if (rows.length !== 1) throw new Error(`expected one row for id ${id}`)
  }
}

async function measureCase(
  cluster: Cluster,
  caseName: string,
  replicas: readonly ClusterNode[],
  node: ClusterNode,
): Promise<BenchRow[]> {
  const router = createRouter({
    primary: cluster.primary.url,
    replicas: replicas.map((replica) => replica.url),
    pool: POOL,
  })
  // The same pool settings as the router's pools: the comparison is about routing, not pool tuning.
  const pool = new pg.Pool({ connectionString: node.url, ...POOL })
  // A second, identical plain pool: its ratio to the first is the noise floor of this measurement.
  const control = new pg.Pool({ connectionString: node.url, ...POOL })
  for (const plain of [pool, control]) {
    // pool.end() resolves before its connections close; the server's goodbye as the cluster stops is expected.
    plain.on('error', () => {})
  }
  try {
    await router.ready()
    const db = pgrouteDrizzle(router)
    const clients = new Map<string, (call: number) => Promise<void>>([
      ['pgrouteDrizzle', pointSelect(db)],
      ['drizzle(pg.Pool)', pointSelect(drizzle({ client: pool }))],
      ['drizzle(pg.Pool) (control)', pointSelect(drizzle({ client: control }))],
    ])
    if (replicas.length === 0) clients.set('pgrouteDrizzle $primary', pointSelect(db.$primary))
    const result = await interleaved({
      clients,
      baseline: 'drizzle(pg.Pool)',
      concurrency: CONCURRENCY,
      rounds: rounds(),
      roundMs: roundMs(),
      warmupMs: 1000,
    })
    // Both sides must have worked the same server, or the comparison means nothing.
    const servedBy = router.status().filter((status) => status.served > 0)
    if (servedBy.length !== 1 || servedBy[0]!.role !== (replicas.length > 0 ? 'replica' : 'primary')) {
      throw new Error(`${caseName}: statements were served by ${servedBy.map((s) => s.name).join(', ')}`)
    }
    const rows: BenchRow[] = []
    for (const client of clients.keys()) {
      const baseline = client === 'drizzle(pg.Pool)'
      rows.push({
        bench: name,
        case: caseName,
        client,
        'ops/s': Math.round(result.opsPerSecond.get(client)!),
        'throughput ratio': baseline ? '(baseline)' : Number(result.ratios.get(client)!.toFixed(3)),
        'client CPU µs/op': Number(result.cpuMicrosPerOp.get(client)!.toFixed(1)),
        'CPU ratio': baseline ? '(baseline)' : Number(result.cpuRatios.get(client)!.toFixed(3)),
      })
    }
    return rows
  } finally {
    await router.end()
    await pool.end()
    await control.end()
  }
}

/** Measures both set-ups on a fresh one-replica cluster. */
export async function run(): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    await seed(cluster)
    const replica = cluster.replicas[0]!
    return [
      ...(await measureCase(cluster, 'one replica (reads on it)', [replica], replica)),
      ...(await measureCase(cluster, 'primary only', [], cluster.primary)),
    ]
  })
}

if (isMain(import.meta.url)) console.table(await run())
