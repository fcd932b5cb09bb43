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
import { PgRouteDialect, primary } from '@pgroute/kysely'
import { Kysely, PostgresDialect } from 'kysely'
import {
  assertServedBy,
  type BenchRow,
  benchRouter,
  ITEM_ROWS,
  isMain,
  type Load,
  plainPool,
  runThroughputBench,
  type ThroughputConfig,
} from './bench-kit.js'

export const name = 'kysely-throughput'

const BASELINE = 'PostgresDialect'
const PINNED = 'PgRouteDialect primary(db)'

interface Database {
  bench_items: { id: number; label: string }
}

function pointSelect(db: Kysely<Database>): (call: number) => Promise<void> {
  return async (call) => {
    const id = (call % ITEM_ROWS) + 1
    const rows = await db.selectFrom('bench_items').selectAll().where('id', '=', id).execute()
    if (rows.length !== 1) throw new Error(`expected one row for id ${id}`)
  }
}

/** Builds one compared client, in a child process of its own (see `interleavedInChildren`). */
export async function createLoad(client: string, config: ThroughputConfig): Promise<Load> {
  if (client === BASELINE || client === `${BASELINE} (control)`) {
    const pool = plainPool(config)
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return { op: pointSelect(db), close: () => db.destroy() }
  }
  const router = await benchRouter(config)
  const db = new Kysely<Database>({ dialect: new PgRouteDialect({ router }) })
  return {
    op: pointSelect(client === PINNED ? primary(db) : db),
    close: async () => {
      assertServedBy(client, router, config)
      await db.destroy()
    },
  }
}

const CLIENTS = ['PgRouteDialect', BASELINE, `${BASELINE} (control)`]

/** Measures both set-ups on a fresh one-replica cluster. */
export function run(): Promise<BenchRow[]> {
  return runThroughputBench({
    bench: name,
    module: import.meta.url,
    baseline: BASELINE,
    clients: (primaryOnly) => [...CLIENTS, ...(primaryOnly ? [PINNED] : [])],
  })
}

if (isMain(import.meta.url)) console.table(await run())
