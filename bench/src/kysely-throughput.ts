/**
 * Kysely over `PgRouteDialect` vs Kysely over its own `PostgresDialect`, both against one and the same PostgreSQL
 * server, same pool size, 16 concurrent callers running point selects: the throughput pgroute's routing costs
 * (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with one replica, whose reads all land on that replica (the read path: operation-node
 * routing, lazily-pinned connection, replica choice, lag-aware lease), and a router with a primary only, where
 * `primary(db)` (a connection pinned up front) is measured too. A second `PostgresDialect` over an identical pool
 * shows the noise of the run. Each client runs in a process of its own and rounds alternate between them (see
 * `interleavedInChildren` in load-child-process.ts). `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/kysely-throughput.ts`
 */
import { PgRouteDialect, primary } from '@pgroute/kysely'
import { Kysely, PostgresDialect } from 'kysely'
import { type BenchRow, isMain } from './bench-module.js'
import type { Load } from './load-child-process.js'
import {
  assertServedBy,
  benchRouter,
  type ClientMap,
  clientLoader,
  ITEM_ROWS,
  plainPool,
  runThroughputBench,
  type ThroughputConfig,
} from './throughput-bench.js'

export const name = 'kysely-throughput'

const BASELINE = 'PostgresDialect'

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

async function postgresDialectLoad(config: ThroughputConfig): Promise<Load> {
  const pool = plainPool(config)
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  return { op: pointSelect(db), close: () => db.destroy() }
}

/** A `PgRouteDialect` client named `client`; `pinned` queries through `primary(db)`. */
async function pgrouteDialectLoad(client: string, config: ThroughputConfig, pinned: boolean): Promise<Load> {
  const router = await benchRouter(config)
  const db = new Kysely<Database>({ dialect: new PgRouteDialect({ router }) })
  return {
    op: pointSelect(pinned ? primary(db) : db),
    close: async () => {
      assertServedBy(client, router, config)
      await db.destroy()
    },
  }
}

/** The compared clients, in the order of their rows. */
const CLIENTS: ClientMap = {
  PgRouteDialect: { create: (config) => pgrouteDialectLoad('PgRouteDialect', config, false) },
  [BASELINE]: { create: postgresDialectLoad },
  [`${BASELINE} (control)`]: { create: postgresDialectLoad },
  'PgRouteDialect primary(db)': {
    create: (config) => pgrouteDialectLoad('PgRouteDialect primary(db)', config, true),
    primaryOnly: true,
  },
}

/** Builds one compared client, in a child process of its own (see `interleavedInChildren`). */
export const createLoad = clientLoader(CLIENTS)

/** Measures both set-ups on a fresh one-replica cluster. */
export function run(): Promise<BenchRow[]> {
  return runThroughputBench({ bench: name, module: import.meta.url, baseline: BASELINE, clients: CLIENTS })
}

if (isMain(import.meta.url)) console.table(await run())
