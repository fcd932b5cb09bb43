/**
 * Kysely over `PgRouteDialect` vs Kysely over its own `PostgresDialect`, both against one and the same PostgreSQL
 * server, same pool size, 16 concurrent callers running point selects: the throughput pgroute's routing costs
 * (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with one replica, whose reads all land on that replica (the read path: operation-node
 * routing, lazily-pinned connection, replica choice, lag-aware lease), and a router with a primary only, where
 * `primary(db)` (a connection pinned up front) is measured too. A second `PostgresDialect` over an identical pool
 * shows the noise of the run. Each client runs in a process of its own and rounds alternate between them (see
 * `interleavedInChildren` in bench-kit.ts). `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/kysely-throughput.ts`
 */
import type { Cluster } from '@pgroute/cluster'
import { createRouter } from '@pgroute/core'
import { PgRouteDialect, primary } from '@pgroute/kysely'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { type BenchRow, compareClients, isMain, type Load, withCluster } from './bench-kit.js'

export const name = 'kysely-throughput'

/** The router's default pool settings, given to every pool compared. */
const POOL = { max: 10, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 5000 } as const
const ROWS = 1000
const BASELINE = 'PostgresDialect'
const PINNED = 'PgRouteDialect primary(db)'

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

/** Where a client connects: the router's nodes, and the node a plain pool uses. */
interface LoadConfig {
  readonly primary: string
  readonly replicas: readonly string[]
  readonly node: string
}

/** Builds one compared client, in a child process of its own (see `interleavedInChildren`). */
export async function createLoad(client: string, config: LoadConfig): Promise<Load> {
  if (client === BASELINE || client === `${BASELINE} (control)`) {
    const pool = new pg.Pool({ connectionString: config.node, ...POOL })
    // pool.end() resolves before its connections close; the server's goodbye as the cluster stops is expected.
    pool.on('error', () => {})
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return { op: pointSelect(db), close: () => db.destroy() }
  }
  const router = createRouter({ primary: config.primary, replicas: [...config.replicas], pool: POOL })
  await router.ready()
  const db = new Kysely<Database>({ dialect: new PgRouteDialect({ router }) })
  return {
    op: pointSelect(client === PINNED ? primary(db) : db),
    close: async () => {
      // Both sides must have worked the same server, or the comparison means nothing.
      const servedBy = router.status().filter((status) => status.served > 0)
      const expected = config.replicas.length > 0 ? 'replica' : 'primary'
      await db.destroy()
      if (servedBy.length !== 1 || servedBy[0]!.role !== expected) {
        throw new Error(`${client}: statements were served by ${servedBy.map((s) => s.name).join(', ')}`)
      }
    },
  }
}

function measureCase(caseName: string, config: LoadConfig): Promise<BenchRow[]> {
  const clients = ['PgRouteDialect', BASELINE, `${BASELINE} (control)`]
  if (config.replicas.length === 0) clients.push(PINNED)
  return compareClients({
    bench: name,
    case: caseName,
    module: import.meta.url,
    clients,
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
