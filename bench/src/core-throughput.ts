/**
 * `router.pool.query` (and `router.query`) vs a plain `pg.Pool` on the very same server, same pool size, 16
 * concurrent callers running point selects: what pgroute's routing costs in throughput (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with one replica, whose reads all land on that replica (the read path: classification,
 * replica choice, lag-aware lease), and a router with a primary only. Rounds alternate between the clients (see
 * `interleaved` in bench-kit.ts); the ratio is the median of the per-round ratios. A second plain pool, identical
 * to the first, is measured too: its ratio shows how far apart two equal clients come out on this machine.
 * Besides throughput, the CPU time the client's process spends per query is compared (`CPU ratio` = pg.Pool's CPU
 * per query / the client's). Each client runs in a process of its own, as in an application (see
 * `interleavedInChildren`). `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `pnpm exec tsx --conditions=pgroute-source bench/src/core-throughput.ts`
 */
import type pg from 'pg'
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

export const name = 'core-throughput'

const SELECT = 'SELECT id, label FROM bench_items WHERE id = $1'

type Query = (text: string, values: unknown[]) => Promise<pg.QueryResult>

function pointSelect(query: Query): (call: number) => Promise<void> {
  return async (call) => {
    const id = (call % ITEM_ROWS) + 1
    const { rows } = await query(SELECT, [id])
    if (rows.length !== 1) throw new Error(`expected one row for id ${id}`)
  }
}

/** Builds one compared client, in a child process of its own (see `interleavedInChildren`). */
export async function createLoad(client: string, config: ThroughputConfig): Promise<Load> {
  if (client === 'pg.Pool' || client === 'pg.Pool (control)') {
    const pool = plainPool(config)
    return { op: pointSelect((text, values) => pool.query(text, values)), close: () => pool.end() }
  }
  const router = await benchRouter(config)
  const query: Query =
    client === 'router.query'
      ? (text, values) => router.query(text, values)
      : (text, values) => router.pool.query(text, values)
  return {
    op: pointSelect(query),
    close: async () => {
      assertServedBy(client, router, config)
      await router.end()
    },
  }
}

const CLIENTS = ['router.pool.query', 'router.query', 'pg.Pool', 'pg.Pool (control)']

/** Measures both set-ups on a fresh one-replica cluster. */
export function run(): Promise<BenchRow[]> {
  return runThroughputBench({
    bench: name,
    module: import.meta.url,
    baseline: 'pg.Pool',
    clients: () => CLIENTS,
  })
}

if (isMain(import.meta.url)) console.table(await run())
