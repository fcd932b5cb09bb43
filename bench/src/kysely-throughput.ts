/**
 * Kysely over `PgRouteDialect` vs Kysely over its own `PostgresDialect`, both against one and the same PostgreSQL
 * server, same pool size, 16 concurrent callers: the throughput pgroute's routing costs (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with a primary only (every query on the primary), and a router with one replica whose
 * reads all land on that replica (the read path: operation-node routing, lazily-pinned connection, replica choice,
 * lag-aware lease). Short rounds alternate between the two instances so that drift of the shared machine hits both
 * alike; the ratio is the median of the paired rounds' ratios. `BENCH_ROUNDS` (15) and `BENCH_ROUND_MS` (1000)
 * tune the length.
 *
 * Run alone: `pnpm exec tsx --conditions=pgroute-source bench/src/kysely-throughput.ts`
 */
import { pathToFileURL } from 'node:url'
import { type Cluster, startCluster } from '@pgroute/cluster'
import { createRouter } from '@pgroute/core'
import { PgRouteDialect } from '@pgroute/kysely'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'

/** Name of this benchmark. */
export const name = 'kysely-throughput'

/** One measured figure. */
export interface Row {
  readonly bench: string
  /** Which set-up: `primary only` or `one replica`. */
  readonly case: string
  /** `pgroute` or `PostgresDialect` (median of the rounds), or `ratio`: median of pgroute / PostgresDialect. */
  readonly client: string
  /** Queries per second, or the ratio. */
  readonly value: number
  readonly unit: 'ops/s' | 'ratio'
}

interface Database {
  bench_items: { id: number; label: string }
}

const CONCURRENCY = 16
const POOL_SIZE = 10
const ROWS = 1000
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000)
const WARMUP_MS = 1000

/** Runs point selects from `CONCURRENCY` callers for `ms` and returns the queries per second. */
async function measure(db: Kysely<Database>, ms: number): Promise<number> {
  const deadline = performance.now() + ms
  let done = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = worker; performance.now() < deadline; i += CONCURRENCY) {
        const id = (i % ROWS) + 1
        const rows = await db.selectFrom('bench_items').selectAll().where('id', '=', id).execute()
        if (rows.length !== 1) throw new Error(`expected one row for id ${id}`)
        done++
      }
    }),
  )
  return done / ((performance.now() - started) / 1000)
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Alternates short rounds of the two instances and reports their medians and the median of the per-pair ratios:
 * pairing adjacent rounds cancels the slow drift of a shared machine.
 */
async function compare(caseName: string, routed: Kysely<Database>, plain: Kysely<Database>): Promise<Row[]> {
  await measure(routed, WARMUP_MS)
  await measure(plain, WARMUP_MS)
  const routedOps: number[] = []
  const plainOps: number[] = []
  const ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
    const routedFirst = round % 2 === 0
    const first = await measure(routedFirst ? routed : plain, ROUND_MS)
    const second = await measure(routedFirst ? plain : routed, ROUND_MS)
    const [r, p] = routedFirst ? [first, second] : [second, first]
    routedOps.push(r)
    plainOps.push(p)
    ratios.push(r / p)
  }
  return [
    { bench: name, case: caseName, client: 'pgroute', value: Math.round(median(routedOps)), unit: 'ops/s' },
    {
      bench: name,
      case: caseName,
      client: 'PostgresDialect',
      value: Math.round(median(plainOps)),
      unit: 'ops/s',
    },
    { bench: name, case: caseName, client: 'ratio', value: Number(median(ratios).toFixed(3)), unit: 'ratio' },
  ]
}

async function seed(cluster: Cluster): Promise<void> {
  await cluster.primary.query('CREATE TABLE bench_items (id integer PRIMARY KEY, label text NOT NULL)')
  await cluster.primary.query(
    `INSERT INTO bench_items SELECT g, 'item ' || g FROM generate_series(1, ${ROWS}) AS g`,
  )
  await cluster.primary.query('ANALYZE bench_items')
  await cluster.waitForReplication()
}

/** Measures both set-ups on a fresh one-replica cluster and returns the figures. */
export async function run(): Promise<Row[]> {
  const cluster = await startCluster({ replicas: 1 })
  try {
    await seed(cluster)
    const replica = cluster.replicas[0]!
    const rows: Row[] = []
    for (const [caseName, replicas, node] of [
      ['primary only', [], cluster.primary],
      ['one replica', [replica.url], replica],
    ] as const) {
      const router = createRouter({
        primary: cluster.primary.url,
        replicas: [...replicas],
        pool: { max: POOL_SIZE },
      })
      const pool = new pg.Pool({ connectionString: node.url, max: POOL_SIZE })
      // pg.Pool emits `error` when an idle connection is dropped (as at cluster shutdown); unhandled, it would crash.
      pool.on('error', () => {})
      const routed = new Kysely<Database>({ dialect: new PgRouteDialect({ router }) })
      const plain = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
      try {
        await router.ready()
        rows.push(...(await compare(caseName, routed, plain)))
        // Both instances must have worked the same server.
        const servedBy = router.status().filter((status) => status.served > 0)
        if (servedBy.length !== 1 || servedBy[0]!.role !== (replicas.length > 0 ? 'replica' : 'primary')) {
          throw new Error(`${caseName}: queries were served by ${servedBy.map((s) => s.name).join(', ')}`)
        }
      } finally {
        // destroy() ends the router and the pool once the instance has run a query; end them if it has not.
        await routed.destroy()
        await router.end()
        await plain.destroy()
        if (!pool.ending) await pool.end()
      }
    }
    return rows
  } finally {
    await cluster.stop()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await run())
}
