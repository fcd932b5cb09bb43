/**
 * Drizzle over pgroute (`pgrouteDrizzle(router)`) vs Drizzle over a plain `pg.Pool`, both against one and the same
 * PostgreSQL server, same pool settings, 16 concurrent callers running point selects: the throughput pgroute's
 * routing costs (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with one replica, whose reads all land on that replica (the read path: classification,
 * replica choice, lag-aware lease), and a router with a primary only, where `db.$primary` is measured too. Rounds
 * alternate between the clients; the ratio is the median of the per-round ratios. A second Drizzle over an
 * identical plain pool is measured too: its ratio shows how far apart two equal clients come out on this machine.
 * Besides throughput, the CPU time the client's process spends per query is compared (`CPU ratio` = the plain
 * pool's CPU per query / the client's). Each client runs in a process of its own, as in an application (see
 * `interleavedInChildren` in bench-kit.ts). `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `pnpm exec tsx --conditions=pgroute-source bench/src/drizzle-throughput.ts`
 */
import type { Cluster } from '@pgroute/cluster'
import { createRouter } from '@pgroute/core'
import { pgrouteDrizzle } from '@pgroute/drizzle'
import { eq } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, text } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { type BenchRow, compareClients, isMain, type Load, withCluster } from './bench-kit.js'

export const name = 'drizzle-throughput'

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

/** Where a client connects: the router's nodes, and the node a plain pool uses. */
interface LoadConfig {
  readonly primary: string
  readonly replicas: readonly string[]
  readonly node: string
}

const BASELINE = 'drizzle(pg.Pool)'

/** Builds one compared client, in a child process of its own (see `interleavedInChildren`). */
export async function createLoad(client: string, config: LoadConfig): Promise<Load> {
  if (client === BASELINE || client === `${BASELINE} (control)`) {
    const pool = new pg.Pool({ connectionString: config.node, ...POOL })
    // pool.end() resolves before its connections close; the server's goodbye as the cluster stops is expected.
    pool.on('error', () => {})
    return { op: pointSelect(drizzle({ client: pool })), close: () => pool.end() }
  }
  const router = createRouter({ primary: config.primary, replicas: [...config.replicas], pool: POOL })
  await router.ready()
  const db = pgrouteDrizzle(router)
  return {
    op: pointSelect(client === 'pgrouteDrizzle $primary' ? db.$primary : db),
    close: async () => {
      // Both sides must have worked the same server, or the comparison means nothing. `$primary` reads run on
      // router.primary itself, outside the router's figures.
      const servedBy = router.status().filter((status) => status.served > 0)
      const expected = config.replicas.length > 0 ? 'replica' : 'primary'
      await router.end()
      const wrong = client === 'pgrouteDrizzle $primary' ? servedBy.length > 0 : servedBy.length !== 1
      if (wrong || servedBy.some((status) => status.role !== expected)) {
        throw new Error(`${client}: statements were served by ${servedBy.map((s) => s.name).join(', ')}`)
      }
    },
  }
}

async function measureCase(caseName: string, config: LoadConfig): Promise<BenchRow[]> {
  const clients = ['pgrouteDrizzle', BASELINE, `${BASELINE} (control)`]
  if (config.replicas.length === 0) clients.push('pgrouteDrizzle $primary')
  return compareClients({
    bench: name,
    case: caseName,
    module: import.meta.url,
    clients: clients,
    baseline: BASELINE,
    config,
  })
}

/** Measures both set-ups on a fresh one-replica cluster. */
export async function run(): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    await seed(cluster)
    const replica = cluster.replicas[0]!.url
    const primary = cluster.primary.url
    return [
      ...(await measureCase('one replica (reads on it)', { primary, replicas: [replica], node: replica })),
      ...(await measureCase('primary only', { primary, replicas: [], node: primary })),
    ]
  })
}

if (isMain(import.meta.url)) console.table(await run())
