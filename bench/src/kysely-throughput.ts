/**
 * Kysely over `PgRouteDialect` vs Kysely over its own `PostgresDialect`, both against one and the same PostgreSQL
 * server, same pool size, 16 concurrent callers running point selects: the throughput pgroute's routing costs
 * (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with one replica, whose reads all land on that replica (the read path: operation-node
 * routing, lazily-pinned connection, replica choice, lag-aware lease), and a router with a primary only, where
 * `primary(db)` (a connection pinned up front) is measured too. Rounds alternate between the clients (see
 * `interleaved` in bench-kit.ts); the ratio is the median of the per-round ratios. `BENCH_ROUNDS` and
 * `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `pnpm exec tsx --conditions=pgroute-source bench/src/kysely-throughput.ts`
 */
import type { Cluster, ClusterNode } from '@pgroute/cluster'
import { createRouter } from '@pgroute/core'
import { PgRouteDialect, primary } from '@pgroute/kysely'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { type BenchRow, interleaved, isMain, roundMs, rounds, withCluster } from './bench-kit.js'

export const name = 'kysely-throughput'

const CONCURRENCY = 16
const POOL_SIZE = 10
const ROWS = 1000
const BASELINE = 'PostgresDialect'

interface Database {
  bench_items: { id: number; label: string }
}

async function seed(cluster: Cluster): Promise<void> {
  await cluster.primary.query(`CREATE TABLE bench_items (id integer PRIMARY KEY, label text NOT NULL);
    INSERT INTO bench_items SELECT g, 'item ' || g FROM generate_series(1, ${ROWS}) AS g;
    ANALYZE bench_items`)
  await cluster.waitForReplication()
}

function pointSelect(db: Kysely<Database>): (call: number) => Promise<void> {
  return async (call) => {
    const id = (call % ROWS) + 1
    const rows = await db.selectFrom('bench_items').selectAll().where('id', '=', id).execute()
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
    pool: { max: POOL_SIZE },
  })
  const pool = new pg.Pool({ connectionString: node.url, max: POOL_SIZE })
  // pool.end() resolves before its connections close; the server's goodbye as the cluster stops is expected.
  pool.on('error', () => {})
  // Each instance ends what it was given (the router, the pool) on destroy(), once it has run a query.
  const routed = new Kysely<Database>({ dialect: new PgRouteDialect({ router }) })
  const plain = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  try {
    await router.ready()
    const clients = new Map<string, (call: number) => Promise<void>>([
      ['PgRouteDialect', pointSelect(routed)],
      [BASELINE, pointSelect(plain)],
    ])
    if (replicas.length === 0) clients.set('PgRouteDialect primary(db)', pointSelect(primary(routed)))
    const result = await interleaved({
      clients,
      baseline: BASELINE,
      concurrency: CONCURRENCY,
      rounds: rounds(),
      roundMs: roundMs(),
      warmupMs: 1000,
    })
    // Both sides must have worked the same server, or the comparison means nothing.
    const servedBy = router.status().filter((status) => status.served > 0)
    if (servedBy.length !== 1 || servedBy[0]!.role !== (replicas.length > 0 ? 'replica' : 'primary')) {
      throw new Error(`${caseName}: queries were served by ${servedBy.map((s) => s.name).join(', ')}`)
    }
    const rows: BenchRow[] = []
    for (const [client, ops] of result.opsPerSecond) {
      rows.push({ bench: name, case: caseName, client, value: Math.round(ops), unit: 'ops/s' })
    }
    for (const [client, ratio] of result.ratios) {
      if (client === BASELINE) continue
      rows.push({
        bench: name,
        case: caseName,
        client: `${client} / ${BASELINE}`,
        value: Number(ratio.toFixed(3)),
        unit: 'ratio',
      })
    }
    return rows
  } finally {
    await routed.destroy()
    await router.end()
    await plain.destroy()
    if (!pool.ending) await pool.end()
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
