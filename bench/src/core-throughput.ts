/**
 * `router.pool.query` (and `router.query`) vs a plain `pg.Pool` on the very same server, same pool size, 16
 * concurrent callers running point selects: what pgroute's routing costs in throughput (goal: ratio >= 0.97).
 *
 * Two set-ups: a router with one replica, whose reads all land on that replica (the read path: classification,
 * replica choice, lag-aware lease), and a router with a primary only. Rounds alternate between the clients (see
 * `measureRounds` in interleaved-rounds.ts); the ratio is the median of the per-round ratios. A second plain
 * pool, identical to the first, is measured too: its ratio shows how far apart two equal clients come out on this
 * machine. Besides throughput, the CPU time the client's process spends per query is compared (`CPU ratio` =
 * pg.Pool's CPU per query / the client's). Each client runs in a process of its own, as in an application (see
 * `interleavedInChildren` in load-child-process.ts). `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/core-throughput.ts`
 */
import type { Router } from '@pgroute/core'
import { type BenchRow, isMain } from './bench-module.js'
import type { Load } from './load-child-process.js'
import {
  benchRouter,
  type ClientMap,
  clientLoader,
  POOL_SETTINGS,
  type PointQuery,
  plainPoolLoad,
  routerLoad,
  runThroughputBench,
  type ThroughputConfig,
} from './throughput-bench.js'

export const name = 'core-throughput'

/** A router-backed client named `client`, querying through what `pick` returns. */
async function pickedLoad(
  client: string,
  config: ThroughputConfig,
  pick: (router: Router) => PointQuery,
): Promise<Load> {
  const router = await benchRouter(config)
  return routerLoad(client, config, router, pick(router))
}

const BASELINE = 'pg.Pool'

/**
 * `BENCH_COMPARE_CORE`: the entry file of another checkout's `@pgroute/core` (its `packages/core/src/index.ts`, say
 * an earlier commit in a git worktree). Its router runs beside this one, in the same rounds, as
 * `router.pool.query (compare)` and `router.query (compare)`: a regression hunt measured side by side, not across
 * runs.
 */
const COMPARE_CORE = process.env.BENCH_COMPARE_CORE

/** A client like {@link pickedLoad}'s, on the router of the `BENCH_COMPARE_CORE` checkout. */
async function comparedLoad(client: string, config: ThroughputConfig, viaPool: boolean): Promise<Load> {
  const other = (await import(COMPARE_CORE!)) as typeof import('@pgroute/core')
  const router = other.createRouter({
    primary: config.primary,
    replicas: [...config.replicas],
    pool: POOL_SETTINGS,
  })
  await router.ready()
  const query: PointQuery = viaPool
    ? (text, values) => router.pool.query(text, values)
    : (text, values) => router.query(text, values)
  return routerLoad(client, config, router as unknown as Router, query)
}

const COMPARED: ClientMap =
  COMPARE_CORE === undefined
    ? {}
    : {
        'router.pool.query (compare)': {
          create: (config) => comparedLoad('router.pool.query (compare)', config, true),
        },
        'router.query (compare)': {
          create: (config) => comparedLoad('router.query (compare)', config, false),
        },
      }

/** The compared clients, in the order of their rows. */
const CLIENTS: ClientMap = {
  'router.pool.query': {
    create: (config) =>
      pickedLoad('router.pool.query', config, (router) => (text, values) => router.pool.query(text, values)),
  },
  'router.query': {
    create: (config) =>
      pickedLoad('router.query', config, (router) => (text, values) => router.query(text, values)),
  },
  [BASELINE]: { create: plainPoolLoad },
  [`${BASELINE} (control)`]: { create: plainPoolLoad },
  ...COMPARED,
}

/** Builds one compared client, in a child process of its own (see `interleavedInChildren`). */
export const createLoad = clientLoader(CLIENTS)

/** Measures both set-ups on a fresh one-replica cluster. */
export function run(): Promise<BenchRow[]> {
  return runThroughputBench({ bench: name, module: import.meta.url, baseline: BASELINE, clients: CLIENTS })
}

if (isMain(import.meta.url)) console.table(await run())
