/**
 * What a fleet of application instances, each with its own router, costs the servers: N routers (in processes of
 * `BENCH_FLEET_PER_PROCESS` routers each, forked by this bench and always stopped) against one primary and one
 * replica, N = each of `BENCH_FLEET_ROUTERS` (`pnpm bench fleet --routers 1,10,100`). Measured on each server,
 * over a window of `BENCH_FLEET_WINDOW_MS`, first with the fleet idle (no statements), then under light traffic
 * (`BENCH_FLEET_RATE` operations a second per router, half of them a write and read-back in a session), then idle
 * again:
 *
 * - connections held: client backends by `application_name` in pg_stat_activity at the end of the window
 *   (`pgroute-monitor`: health probes; `pgroute-control`: the router's own WAL-position lookups; the pools);
 * - probes per second: calls of the probe statement completed by the server (pg_stat_statements, preloaded);
 * - server CPU spent on probes: CPU time of the `pgroute-monitor` backends (/proc/<pid>/schedstat), per second of
 *   the window and per probe; likewise for the control connections;
 * - the router's own memory: RSS and V8 heap of each fleet process after a full GC, minus the same process before
 *   it created its routers, per router.
 *
 * A third window, `idle after traffic`, starts once the pools have closed their idle connections
 * (`pool.idleTimeoutMillis`, 10 s): what an instance that served sessions once keeps holding while idle.
 *
 * Each size runs twice, side by side: probing `fixed` (`healthCheck.idleIntervalMs` = `intervalMs`, 1 s: every
 * router probes every second whatever its traffic, as before the adaptive interval) and `adaptive` (the default:
 * a router that ran no statement for `healthCheck.idleAfterMs`, 10 s, probes every `idleIntervalMs`, 15 s). The
 * idle windows start once the routers count as idle, and are `BENCH_FLEET_WINDOW_MS` long, at least 16 s, so that
 * an adaptive window holds a probe of every router. Probes and the router's own WAL-position lookups share one
 * connection per node and router (`pgroute-monitor`); `conns control` stays 0 (lookups are counted as `control
 * stmts/s` by their text). Adaptive idle rows say how many times fewer probes and less probe CPU than the fixed row
 * beside them (from the unrounded figures), and the bench prints the idle fleet's figure per router, both ways, for
 * each size and idle phase ({@link reductions}).
 *
 * After each N the fleet is closed and every connection it opened must be gone from the servers.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/fleet.ts`
 */
import { type ChildProcess, fork } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { envNumber, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import type { FleetAsk, FleetChildConfig, FleetReply, MemoryFigures } from './fleet-child.js'
import { hasProc } from './proc-stat.js'
import { type ServerCost, ServerSampler, serverCost } from './server-sampler.js'

export const name = 'fleet'

/** The fleet sizes to measure: `BENCH_FLEET_ROUTERS` (`pnpm bench fleet --routers 1,10,100`), default 1, 10, 100. */
export function fleetSizes(text = process.env.BENCH_FLEET_ROUTERS || '1,10,100'): number[] {
  const sizes = text.split(',').map((part) => Number(part.trim()))
  if (sizes.length === 0 || sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new Error(
      `BENCH_FLEET_ROUTERS (--routers) must be positive integers separated by commas, got ${JSON.stringify(text)}`,
    )
  }
  return sizes
}

/** The router's default `pool.idleTimeoutMillis`: after it, a pool has closed the connections it no longer uses. */
const POOL_IDLE_TIMEOUT_MS = 10_000

/** The router's default `healthCheck.idleAfterMs`, `intervalMs` and `idleIntervalMs`. */
const IDLE_AFTER_MS = 10_000
const INTERVAL_MS = 1000
const IDLE_INTERVAL_MS = 15_000

/** How the fleet probes: every second whatever the traffic, or the default adaptive interval. */
const PROBING = [
  { probing: 'fixed 1 s', idleIntervalMs: INTERVAL_MS },
  { probing: 'adaptive', idleIntervalMs: undefined },
] as const

/** Connections a router may hold on one node: its own (probes and lookups), and its pool in light traffic. */
const CONNECTIONS_PER_ROUTER = 4

/** A forked process holding some of the fleet's routers. */
class FleetProcess {
  readonly #child: ChildProcess
  readonly #pending = new Map<
    number,
    { resolve: (reply: FleetReply) => void; reject: (error: Error) => void }
  >()
  readonly #exited: Promise<void>
  readonly ready: Promise<MemoryFigures>
  #nextId = 1
  #gone: Error | undefined

  constructor(config: FleetChildConfig) {
    this.#child = fork(fileURLToPath(new URL('./fleet-child.ts', import.meta.url)), {
      env: { ...process.env, BENCH_FLEET_CHILD: JSON.stringify(config) },
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()))
    this.ready = new Promise((resolve, reject) => {
      this.#child.on('message', (reply: FleetReply) => {
        if (!('id' in reply)) {
          if (reply.error) reject(new Error(`a fleet process could not start its routers: ${reply.error}`))
          else resolve(reply.base)
          return
        }
        this.#pending.get(reply.id)?.resolve(reply)
        this.#pending.delete(reply.id)
      })
      this.#child.once('exit', (code, signal) => {
        this.#gone = new Error(`a fleet process exited (${code ?? signal})`)
        reject(this.#gone)
        for (const waiter of this.#pending.values()) waiter.reject(this.#gone)
        this.#pending.clear()
      })
    })
    this.ready.catch(() => {}) // observed by Fleet.start; a later exit must not be an unhandled rejection
  }

  request<T extends FleetReply>(request: FleetAsk): Promise<T> {
    if (this.#gone) return Promise.reject(this.#gone)
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (reply: FleetReply) => void, reject })
      this.#child.send({ ...request, id })
    })
  }

  /** Closes its routers and waits for it to exit; SIGKILL after 20 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    if (this.#child.connected) this.request({ type: 'close' }).catch(() => {})
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), 20_000)
    })
    if (await Promise.race([this.#exited.then(() => false), late])) this.#child.kill('SIGKILL')
    clearTimeout(timer)
    await this.#exited
  }
}

/** N routers in processes of `perProcess`; `base` is each process's memory before it created its routers. */
class Fleet {
  private constructor(
    readonly processes: readonly FleetProcess[],
    readonly base: readonly MemoryFigures[],
    readonly size: number,
  ) {}

  static async start(config: Omit<FleetChildConfig, 'first' | 'count'>, size: number, perProcess: number) {
    const count = Math.ceil(size / perProcess)
    const processes = Array.from({ length: count }, (_, i) => {
      const first = Math.floor((i * size) / count)
      const next = Math.floor(((i + 1) * size) / count)
      return new FleetProcess({ ...config, first, count: next - first })
    })
    try {
      return new Fleet(processes, await Promise.all(processes.map((process) => process.ready)), size)
    } catch (error) {
      await Promise.all(processes.map((process) => process.stop()))
      throw error
    }
  }

  /** Memory per router: the processes' growth since they started, shared out over the routers. */
  async memoryPerRouter(): Promise<MemoryFigures> {
    const now = await Promise.all(
      this.processes.map((process) => process.request<FleetReply & { type: 'memory' }>({ type: 'memory' })),
    )
    let rss = 0
    let heapUsed = 0
    now.forEach((reply, i) => {
      rss += reply.memory.rss - this.base[i]!.rss
      heapUsed += reply.memory.heapUsed - this.base[i]!.heapUsed
    })
    return { rss: rss / this.size, heapUsed: heapUsed / this.size }
  }

  async traffic(rate: number, rampMs: number): Promise<void> {
    await Promise.all(this.processes.map((process) => process.request({ type: 'traffic', rate, rampMs })))
  }

  /** Stops the traffic; resolves to the operations done, failed and skipped. */
  async idle(): Promise<{ ops: number; failed: number; skipped: number }> {
    const replies = await Promise.all(
      this.processes.map((process) => process.request<FleetReply & { type: 'idle' }>({ type: 'idle' })),
    )
    return {
      ops: replies.reduce((sum, reply) => sum + reply.ops, 0),
      failed: replies.reduce((sum, reply) => sum + reply.failed, 0),
      skipped: replies.reduce((sum, reply) => sum + reply.skipped, 0),
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((process) => process.stop()))
  }
}

/** What every server spent during `ms` milliseconds. */
async function window(samplers: readonly ServerSampler[], ms: number): Promise<ServerCost[]> {
  const start = await Promise.all(samplers.map((sampler) => sampler.sample()))
  await sleep(ms)
  const end = await Promise.all(samplers.map((sampler) => sampler.sample()))
  return samplers.map((_, i) => serverCost(start[i]!, end[i]!))
}

const round = (value: number, digits: number) => Number(value.toFixed(digits))
const MB = 1024 * 1024

/** What a fleet of `size` routers cost every server in one phase, as measured (unrounded). */
export interface Phase {
  readonly probing: string
  readonly size: number
  readonly processes: number
  readonly traffic: string
  readonly nodes: readonly string[]
  readonly costs: readonly ServerCost[]
  readonly memory: MemoryFigures
  readonly failed: number | string
}

/**
 * The `fixed 1 s` phase measured beside `phase` (same size and traffic), if `phase` is an adaptive idle one. Under
 * traffic both probe every second: their difference is noise (and probes that timed out on a busy machine).
 */
function fixedBeside(phases: readonly Phase[], phase: Phase): Phase | undefined {
  if (phase.probing === PROBING[0].probing || !phase.traffic.startsWith('idle')) return undefined
  return phases.find(
    (other) =>
      other.probing === PROBING[0].probing && other.size === phase.size && other.traffic === phase.traffic,
  )
}

/** `a / b` as `12.3×`, or `-` when either is missing or `b` is 0. */
function times(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0
    ? `${(a / b).toFixed(1)}×`
    : '-'
}

/** One row per server and phase; adaptive idle rows say how many times fewer probes and less probe CPU than fixed. */
export function phaseRows(phases: readonly Phase[]): BenchRow[] {
  return phases.flatMap((phase) => {
    const fixed = fixedBeside(phases, phase)
    return phase.costs.map((cost, i) => {
      const probes = cost.statementsPerSecond.monitor
      // An adaptive idle window of 16 s holds at least one probe of every router.
      if (probes === 0) {
        throw new Error(
          `${phase.nodes[i]}: no probe statement completed in the window (pg_stat_statements found none ` +
            'with "AS in_recovery": did the probe\'s text change? See server-sampler.ts)',
        )
      }
      const fixedCost = fixed?.costs[i]
      return {
        bench: name,
        probing: phase.probing,
        routers: phase.size,
        processes: phase.processes,
        traffic: phase.traffic,
        node: phase.nodes[i]!,
        'conns monitor': cost.connections.monitor,
        'conns control': cost.connections.control,
        'conns app': cost.connections.app,
        'conns total': cost.connections.total,
        'probes/s': round(probes, 2),
        'probes/s per router': round(probes / phase.size, 3),
        'probe CPU ms/s': hasProc ? round(cost.cpuMsPerSecond.monitor, 2) : '-',
        'probe CPU µs/probe': hasProc ? round(cost.cpuMicrosPerStatement.monitor, 1) : '-',
        'fewer probes than fixed': times(fixedCost?.statementsPerSecond.monitor, probes),
        'less probe CPU than fixed': hasProc
          ? times(fixedCost?.cpuMsPerSecond.monitor, cost.cpuMsPerSecond.monitor)
          : '-',
        'control stmts/s': round(cost.statementsPerSecond.control, 1),
        'control CPU ms/s': hasProc ? round(cost.cpuMsPerSecond.control, 2) : '-',
        'app stmts/s': round(cost.statementsPerSecond.app, 1),
        'router RSS MB': round(phase.memory.rss / MB, 2),
        'router heap MB': round(phase.memory.heapUsed / MB, 2),
        'failed ops': phase.failed,
      }
    })
  })
}

/**
 * The idle-fleet figure, side by side from the same run: for each size and idle phase, per router and summed over
 * the nodes, the probes and probe CPU of `fixed 1 s` (every router probing every second, as before the adaptive
 * interval) against `adaptive`, and the connections the routers hold for their own statements.
 */
export function reductions(phases: readonly Phase[]): string[] {
  const lines: string[] = []
  const sum = (costs: readonly ServerCost[], of: (cost: ServerCost) => number) =>
    costs.reduce((total, cost) => total + of(cost), 0)
  for (const adaptive of phases) {
    const fixed = fixedBeside(phases, adaptive)
    if (fixed === undefined) continue
    const figures = (phase: Phase) => {
      const probes = sum(phase.costs, (cost) => cost.statementsPerSecond.monitor) / phase.size
      const cpu = sum(phase.costs, (cost) => cost.cpuMsPerSecond.monitor) / phase.size
      const own = sum(phase.costs, (cost) => cost.connections.monitor + cost.connections.control) / phase.size
      return { probes, cpu, own }
    }
    const [f, a] = [figures(fixed), figures(adaptive)]
    const describe = (x: typeof f) =>
      `${x.probes.toFixed(3)} probes/s` +
      (hasProc ? `, ${(x.cpu * 1000).toFixed(0)} µs/s of server CPU` : '') +
      `, ${x.own.toFixed(2)} connections of its own`
    lines.push(
      `fleet of ${adaptive.size}, ${adaptive.traffic}, per router over the ${adaptive.nodes.length} nodes: ` +
        `fixed 1 s ${describe(f)}; adaptive ${describe(a)}: ${times(f.probes, a.probes)} fewer probes` +
        (hasProc ? `, ${times(f.cpu, a.cpu)} less probe CPU` : '') +
        ' (goal ≥ 5×)',
    )
  }
  return lines
}

/** Waits until no connection of the fleet is left on any server; throws naming what is left after 10 s. */
async function assertFleetGone(samplers: readonly ServerSampler[], size: number): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const left = await Promise.all(
      samplers.map(async (sampler) => {
        const { backends } = await sampler.sample()
        return backends.filter((backend) => backend.owner !== undefined).length
      }),
    )
    if (left.every((count) => count === 0)) return
    if (Date.now() > deadline) {
      throw new Error(`${size} routers closed, but their connections are still open: ${JSON.stringify(left)}`)
    }
    await sleep(200)
  }
}

/** Measures every fleet size of `BENCH_FLEET_ROUTERS` on one cluster sized for the largest. */
export function run(): Promise<BenchRow[]> {
  const sizes = fleetSizes()
  const perProcess = Math.round(envNumber('BENCH_FLEET_PER_PROCESS', 50))
  const windowMs = envNumber('BENCH_FLEET_WINDOW_MS', 5000)
  const rate = envNumber('BENCH_FLEET_RATE', 2)
  // One probe of every adaptive router in each idle window (they probe every 15 s once idle).
  const idleWindowMs = Math.max(windowMs, IDLE_INTERVAL_MS + INTERVAL_MS)
  const largest = Math.max(...sizes)
  return withCluster(
    {
      replicas: 1,
      postgresConfig: {
        max_connections: largest * CONNECTIONS_PER_ROUTER + 50,
        shared_preload_libraries: 'pg_stat_statements',
      },
    },
    async (cluster) => {
      await cluster.primary.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        CREATE TABLE fleet_counters (id integer PRIMARY KEY, v bigint NOT NULL);
        INSERT INTO fleet_counters SELECT g, 0 FROM generate_series(1, ${largest}) AS g`)
      await cluster.waitForReplication()
      const samplers = await Promise.all(cluster.nodes.map((node) => ServerSampler.connect(node)))
      const config = {
        primary: cluster.primary.url,
        replicas: cluster.replicas.map((replica) => replica.url),
      }
      const phases: Phase[] = []
      const nodes = samplers.map((sampler) => sampler.node)
      try {
        for (const size of sizes)
          for (const { probing, idleIntervalMs } of PROBING) {
            const fleet = await Fleet.start({ ...config, idleIntervalMs }, size, perProcess)
            const processes = fleet.processes.length
            try {
              // Idle: the routers ran no statement for healthCheck.idleAfterMs, and their last active round is over.
              await sleep(IDLE_AFTER_MS + 2 * INTERVAL_MS)
              const idle = await window(samplers, idleWindowMs)
              phases.push({
                probing,
                size,
                processes,
                traffic: 'idle',
                nodes,
                costs: idle,
                memory: await fleet.memoryPerRouter(),
                failed: '-',
              })
              // Routers start their traffic over a ramp, as a fleet's instances would not all at once: 200 routers
              // opening their pools' first connections (SCRAM logins) in the same half second overran this 2-core
              // machine's servers (logins timed out, probes too, writes failed). The window starts 3 s after.
              const rampMs = Math.max(1000, size * 10)
              await fleet.traffic(rate, rampMs)
              await sleep(rampMs + 3000)
              const light = await window(samplers, windowMs)
              const memory = await fleet.memoryPerRouter()
              const { failed } = await fleet.idle()
              phases.push({
                probing,
                size,
                processes,
                traffic: `light (${rate}/s per router)`,
                nodes,
                costs: light,
                memory,
                failed,
              })
              // Idle again, once the pools have closed their idle connections: what stays open for good.
              await sleep(Math.max(POOL_IDLE_TIMEOUT_MS, IDLE_AFTER_MS + 2 * INTERVAL_MS) + 1000)
              const after = await window(samplers, idleWindowMs)
              phases.push({
                probing,
                size,
                processes,
                traffic: 'idle after traffic',
                nodes,
                costs: after,
                memory: await fleet.memoryPerRouter(),
                failed: '-',
              })
            } finally {
              await fleet.stop()
            }
            await assertFleetGone(samplers, size)
          }
      } finally {
        await Promise.all(samplers.map((sampler) => sampler.close()))
      }
      console.log(reductions(phases).join('\n'))
      return phaseRows(phases)
    },
  )
}

if (isMain(import.meta.url)) console.table(await run())
