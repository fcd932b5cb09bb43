/**
 * Closed-loop timing of one client, and interleaved rounds that compare several clients on a drifting machine.
 */
import { PerformanceObserver } from 'node:perf_hooks'

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The `q` quantile (0..1) of `sorted` (ascending), by nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new Error('quantile of nothing')
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** What one closed loop measured. */
export interface LoopFigures {
  /** Completed calls. */
  readonly calls: number
  /** Completed calls per second. */
  readonly opsPerSecond: number
  /** CPU time this process spent per call (user + system), in microseconds: the client side's cost. */
  readonly cpuMicrosPerOp: number
  /**
   * Time this process spent collecting garbage per call, in microseconds (part of the CPU time). Objects that
   * outlive a call where they should not (promoted to the old generation) show here first.
   */
  readonly gcMicrosPerOp: number
  /** Median time of one call, from its start to its answer, in milliseconds. */
  readonly p50Ms: number
  /** 99th percentile of the time of one call, in milliseconds. */
  readonly p99Ms: number
}

/** Starts adding up this process's garbage collection pauses; `stop()` returns their total in milliseconds. */
function gcTime(): { stop(): number } {
  let total = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) total += entry.duration
  })
  observer.observe({ entryTypes: ['gc'] })
  return {
    stop() {
      for (const entry of observer.takeRecords()) total += entry.duration
      observer.disconnect()
      return total
    },
  }
}

/**
 * Runs `op` from `concurrency` callers, each starting its next call when the previous one finished, for `ms`
 * milliseconds. `op` gets a running call number. Each call is timed (two `performance.now()` readings, a number
 * kept in a growing array: well under a microsecond, the same for every client compared).
 */
export async function closedLoop(
  concurrency: number,
  ms: number,
  op: (call: number) => Promise<unknown>,
): Promise<LoopFigures> {
  const gc = gcTime()
  const cpu = process.cpuUsage()
  const started = performance.now()
  const deadline = started + ms
  const latencies: number[] = []
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let call = worker, now = performance.now(); now < deadline; call += concurrency) {
        await op(call)
        const end = performance.now()
        latencies.push(end - now)
        now = end
      }
    }),
  )
  const used = process.cpuUsage(cpu)
  const gcMs = gc.stop()
  const done = latencies.length
  const sorted = Float64Array.from(latencies).sort()
  return {
    calls: done,
    opsPerSecond: done / ((performance.now() - started) / 1000),
    cpuMicrosPerOp: (used.user + used.system) / done,
    gcMicrosPerOp: (gcMs * 1000) / done,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
  }
}

/** Medians of a comparison in interleaved rounds, by client name. */
export interface InterleavedResult {
  /** Median calls per second of each client, by name. */
  readonly opsPerSecond: ReadonlyMap<string, number>
  /** Median over rounds of (client / baseline) throughput measured in the same round, by client name. */
  readonly ratios: ReadonlyMap<string, number>
  /** Median CPU microseconds per call of each client, by name. */
  readonly cpuMicrosPerOp: ReadonlyMap<string, number>
  /** Median over rounds of (baseline / client) CPU per call: like `ratios`, below 1 means the client costs more. */
  readonly cpuRatios: ReadonlyMap<string, number>
  /** Median garbage collection microseconds per call of each client, by name. */
  readonly gcMicrosPerOp: ReadonlyMap<string, number>
  /** Median over rounds of each client's median call time (ms), by name. */
  readonly p50Ms: ReadonlyMap<string, number>
  /** Median over rounds of each client's 99th percentile call time (ms), by name. */
  readonly p99Ms: ReadonlyMap<string, number>
  /** Calls each client completed over all rounds, by name. */
  readonly calls: ReadonlyMap<string, number>
}

/**
 * Measures clients in rounds, every client once per round, rotating which goes first, so that the drift of a
 * shared machine (other processes, CPU frequency, caches) hits all of them alike. Ratios are taken within a round,
 * then their median is reported: a slow moment spoils one pair, not the result.
 */
export async function measureRounds(
  options: { readonly clients: readonly string[]; readonly baseline: string; readonly rounds: number },
  measure: (client: string) => Promise<LoopFigures>,
): Promise<InterleavedResult> {
  const names = options.clients
  if (!names.includes(options.baseline)) throw new Error(`unknown baseline ${options.baseline}`)
  const series = () => new Map(names.map((name) => [name, [] as number[]]))
  const ops = series()
  const ratios = series()
  const cpu = series()
  const cpuRatios = series()
  const gc = series()
  const p50 = series()
  const p99 = series()
  const calls = new Map(names.map((name) => [name, 0]))
  for (let round = 0; round < options.rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]!)
    const measured = new Map<string, LoopFigures>()
    for (const name of order) measured.set(name, await measure(name))
    const base = measured.get(options.baseline)!
    for (const name of names) {
      const figures = measured.get(name)!
      ops.get(name)!.push(figures.opsPerSecond)
      ratios.get(name)!.push(figures.opsPerSecond / base.opsPerSecond)
      cpu.get(name)!.push(figures.cpuMicrosPerOp)
      cpuRatios.get(name)!.push(base.cpuMicrosPerOp / figures.cpuMicrosPerOp)
      gc.get(name)!.push(figures.gcMicrosPerOp)
      p50.get(name)!.push(figures.p50Ms)
      p99.get(name)!.push(figures.p99Ms)
      calls.set(name, calls.get(name)! + figures.calls)
    }
  }
  const medians = (values: Map<string, number[]>) =>
    new Map(names.map((name) => [name, median(values.get(name)!)]))
  return {
    opsPerSecond: medians(ops),
    ratios: medians(ratios),
    cpuMicrosPerOp: medians(cpu),
    cpuRatios: medians(cpuRatios),
    gcMicrosPerOp: medians(gc),
    p50Ms: medians(p50),
    p99Ms: medians(p99),
    calls,
  }
}
