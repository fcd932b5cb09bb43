/**
 * What the benchmarks share: the module contract `run-all.ts` relies on, settings from the environment, a cluster
 * that is always stopped, and closed-loop timing with interleaved rounds.
 */
import { pathToFileURL } from 'node:url'
import { type Cluster, type StartClusterOptions, startCluster } from '@pgroute/cluster'

/** One line of a benchmark's table: flat, printable with `console.table`. Every row of one bench has the same keys. */
export type BenchRow = Readonly<Record<string, string | number>>

/** What every `bench/src/<name>.ts` listed in `run-all.ts` exports. */
export interface BenchModule {
  /** The file name without `.ts`, e.g. `core-throughput`. */
  readonly name: string
  /** Starts what it needs, measures, stops everything it started, and returns the figures of this one run. */
  run(): Promise<readonly BenchRow[]>
}

/** A positive number from the environment, or `fallback`. Throws on anything else, naming the variable. */
export function envNumber(variable: string, fallback: number): number {
  const text = process.env[variable]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${variable} must be a positive number, got ${JSON.stringify(text)}`)
  }
  return value
}

/** Paired rounds per comparison (`BENCH_ROUNDS`, default 15 when a bench runs alone). */
export function rounds(): number {
  return Math.round(envNumber('BENCH_ROUNDS', 15))
}

/** Length of one round in milliseconds (`BENCH_ROUND_MS`, default 1000 when a bench runs alone). */
export function roundMs(): number {
  return envNumber('BENCH_ROUND_MS', 1000)
}

/** Starts a cluster, runs `fn`, and stops the cluster whatever happens. */
export async function withCluster<T>(
  options: StartClusterOptions,
  fn: (cluster: Cluster) => Promise<T>,
): Promise<T> {
  const cluster = await startCluster(options)
  try {
    return await fn(cluster)
  } finally {
    // The servers are unref'd child processes: with every pool ended, nothing else may hold the event loop open
    // while they shut down, and Node would exit mid-await.
    const keepAlive = setInterval(() => {}, 1000)
    try {
      await cluster.stop()
    } finally {
      clearInterval(keepAlive)
    }
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Runs `op` from `concurrency` callers, each starting its next call when the previous one finished, for `ms`
 * milliseconds. Returns completed calls per second. `op` gets a running call number.
 */
export async function closedLoop(
  concurrency: number,
  ms: number,
  op: (call: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now()
  const deadline = started + ms
  let done = 0
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let call = worker; performance.now() < deadline; call += concurrency) {
        await op(call)
        done++
      }
    }),
  )
  return done / ((performance.now() - started) / 1000)
}

export interface InterleavedResult {
  /** Median calls per second of each client, by name. */
  readonly opsPerSecond: ReadonlyMap<string, number>
  /** Median over rounds of (client / baseline) measured in the same round, by client name. */
  readonly ratios: ReadonlyMap<string, number>
}

/**
 * Measures several clients in rounds, every client once per round, rotating which goes first, so that the drift
 * of a shared machine (other processes, CPU frequency, caches) hits all of them alike. Ratios are taken within a
 * round, then their median is reported: a slow moment spoils one pair, not the result.
 */
export async function interleaved(options: {
  readonly clients: ReadonlyMap<string, (call: number) => Promise<unknown>>
  readonly baseline: string
  readonly concurrency: number
  readonly rounds: number
  readonly roundMs: number
  readonly warmupMs?: number
}): Promise<InterleavedResult> {
  const names = [...options.clients.keys()]
  if (!options.clients.has(options.baseline)) throw new Error(`unknown baseline ${options.baseline}`)
  for (const name of names)
    await closedLoop(options.concurrency, options.warmupMs ?? 500, options.clients.get(name)!)
  const samples = new Map(names.map((name) => [name, [] as number[]]))
  const ratios = new Map(names.map((name) => [name, [] as number[]]))
  for (let round = 0; round < options.rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]!)
    const measured = new Map<string, number>()
    for (const name of order) {
      measured.set(name, await closedLoop(options.concurrency, options.roundMs, options.clients.get(name)!))
    }
    const base = measured.get(options.baseline)!
    for (const name of names) {
      samples.get(name)!.push(measured.get(name)!)
      ratios.get(name)!.push(measured.get(name)! / base)
    }
  }
  return {
    opsPerSecond: new Map(names.map((name) => [name, median(samples.get(name)!)])),
    ratios: new Map(names.map((name) => [name, median(ratios.get(name)!)])),
  }
}

/** True when `importMetaUrl` is the file node was started with (a bench run on its own). */
export function isMain(importMetaUrl: string): boolean {
  return process.argv[1] !== undefined && importMetaUrl === pathToFileURL(process.argv[1]).href
}
