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
 * `interleavedInChildren` in load-child-process.ts). `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/drizzle-throughput.ts`
 */
import { pgrouteDrizzle } from '@pgroute/drizzle'
import { eq } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, text } from 'drizzle-orm/pg-core'
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

export const name = 'drizzle-throughput'

const items = pgTable('bench_items', {
  id: integer('id').primaryKey(),
  label: text('label').notNull(),
})

function pointSelect(db: Pick<ReturnType<typeof drizzle>, 'select'>): (call: number) => Promise<void> {
  return async (call) => {
    const id = (call % ITEM_ROWS) + 1
    const rows = await db.select().from(items).where(eq(items.id, id))
    if (rows.length !== 1) throw new Error(`expected one row for id ${id}`)
  }
}

const BASELINE = 'drizzle(pg.Pool)'

async function plainDrizzleLoad(config: ThroughputConfig): Promise<Load> {
  const pool = plainPool(config)
  return { op: pointSelect(drizzle({ client: pool })), close: () => pool.end() }
}

/** A `pgrouteDrizzle` client named `client`; `onPrimary` queries through `db.$primary`. */
async function pgrouteDrizzleLoad(
  client: string,
  config: ThroughputConfig,
  onPrimary: boolean,
): Promise<Load> {
  const router = await benchRouter(config)
  const db = pgrouteDrizzle(router)
  return {
    op: pointSelect(onPrimary ? db.$primary : db),
    close: async () => {
      // `$primary` (router.primary) goes through the router too: its reads count for the primary.
      assertServedBy(client, router, config)
      await router.end()
    },
  }
}

/** The compared clients, in the order of their rows. */
const CLIENTS: ClientMap = {
  pgrouteDrizzle: { create: (config) => pgrouteDrizzleLoad('pgrouteDrizzle', config, false) },
  [BASELINE]: { create: plainDrizzleLoad },
  [`${BASELINE} (control)`]: { create: plainDrizzleLoad },
  'pgrouteDrizzle $primary': {
    create: (config) => pgrouteDrizzleLoad('pgrouteDrizzle $primary', config, true),
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
