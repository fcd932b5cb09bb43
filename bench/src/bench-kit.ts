/**
 * What the benchmarks share: the module contract `run-all.ts` relies on, settings from the environment, a cluster
 * that is always stopped, and closed-loop timing with interleaved rounds.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Cluster, type StartClusterOptions, startCluster } from '@pgroute/cluster'
import { createRouter, type Router } from '@pgroute/core'
import pg from 'pg'

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

export interface LoopFigures {
  /** Completed calls per second. */
  readonly opsPerSecond: number
  /** CPU time this process spent per call (user + system), in microseconds: the client side's cost. */
  readonly cpuMicrosPerOp: number
}

/**
 * Runs `op` from `concurrency` callers, each starting its next call when the previous one finished, for `ms`
 * milliseconds. `op` gets a running call number.
 */
export async function closedLoop(
  concurrency: number,
  ms: number,
  op: (call: number) => Promise<unknown>,
): Promise<LoopFigures> {
  const cpu = process.cpuUsage()
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
  const used = process.cpuUsage(cpu)
  return {
    opsPerSecond: done / ((performance.now() - started) / 1000),
    cpuMicrosPerOp: (used.user + used.system) / done,
  }
}

export interface InterleavedResult {
  /** Median calls per second of each client, by name. */
  readonly opsPerSecond: ReadonlyMap<string, number>
  /** Median over rounds of (client / baseline) throughput measured in the same round, by client name. */
  readonly ratios: ReadonlyMap<string, number>
  /** Median CPU microseconds per call of each client, by name. */
  readonly cpuMicrosPerOp: ReadonlyMap<string, number>
  /** Median over rounds of (baseline / client) CPU per call: like `ratios`, below 1 means the client costs more. */
  readonly cpuRatios: ReadonlyMap<string, number>
}

/**
 * Measures clients in rounds, every client once per round, rotating which goes first, so that the drift of a
 * shared machine (other processes, CPU frequency, caches) hits all of them alike. Ratios are taken within a round,
 * then their median is reported: a slow moment spoils one pair, not the result.
 */
async function measureRounds(
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
    }
  }
  const medians = (values: Map<string, number[]>) =>
    new Map(names.map((name) => [name, median(values.get(name)!)]))
  return {
    opsPerSecond: medians(ops),
    ratios: medians(ratios),
    cpuMicrosPerOp: medians(cpu),
    cpuRatios: medians(cpuRatios),
  }
}

/** A client under load, built in a child process by a module's `createLoad` (see {@link interleavedInChildren}). */
export interface Load {
  /** One call, e.g. one query; gets a running call number. */
  readonly op: (call: number) => Promise<unknown>
  /** Ends pools and routers. */
  readonly close: () => Promise<void>
}

/** What a module measured with {@link interleavedInChildren} exports. */
export interface LoadModule {
  createLoad(client: string, config: unknown): Promise<Load>
}

type ChildMessage = { type: 'ready' } | ({ type: 'figures' } & LoopFigures)

/** A child process holding one client, answering "run for ms" requests with its figures. */
class LoadChild {
  readonly #child: ChildProcess
  readonly #messages: ChildMessage[] = []
  #waiting: { resolve: (message: ChildMessage) => void; reject: (error: Error) => void } | undefined
  #exited: Error | undefined

  constructor(module: string, client: string, config: unknown) {
    // The child runs like this process (same loader and conditions), one client per process.
    this.#child = fork(fileURLToPath(new URL('./load-child.ts', import.meta.url)), {
      env: { ...process.env, BENCH_LOAD: JSON.stringify({ module, client, config }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#child.on('message', (message: ChildMessage) => {
      const waiting = this.#waiting
      this.#waiting = undefined
      if (waiting) waiting.resolve(message)
      else this.#messages.push(message)
    })
    this.#child.once('exit', (code) => {
      this.#exited = new Error(`bench child ${client} exited (${code}) before answering`)
      this.#waiting?.reject(this.#exited)
      this.#waiting = undefined
    })
  }

  #next(): Promise<ChildMessage> {
    const queued = this.#messages.shift()
    if (queued) return Promise.resolve(queued)
    if (this.#exited) return Promise.reject(this.#exited)
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
    })
  }

  async ready(): Promise<void> {
    await this.#next()
  }

  async run(concurrency: number, ms: number): Promise<LoopFigures> {
    this.#child.send({ type: 'run', concurrency, ms })
    const message = await this.#next()
    if (message.type !== 'figures') throw new Error(`unexpected ${message.type} from a bench child`)
    return message
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    if (this.#child.connected) this.#child.send({ type: 'close' })
    await exited
  }
}

/**
 * Measures clients in interleaved rounds (see `measureRounds`), each client in a process of its own, built by
 * `module`'s `createLoad`. Sharing one process, clients share one JIT: the code they have in common (pg's) gets optimised for a mix no
 * application runs, and whichever client differs more from the others pays for it.
 */
export async function interleavedInChildren(options: {
  /** Absolute file URL of a module exporting `createLoad` ({@link LoadModule}). */
  readonly module: string
  readonly clients: readonly string[]
  readonly config: unknown
  readonly baseline: string
  readonly concurrency: number
  readonly rounds: number
  readonly roundMs: number
  readonly warmupMs?: number
}): Promise<InterleavedResult> {
  const children = new Map(
    options.clients.map((client) => [client, new LoadChild(options.module, client, options.config)]),
  )
  try {
    for (const child of children.values()) await child.ready()
    for (const child of children.values()) await child.run(options.concurrency, options.warmupMs ?? 500)
    return await measureRounds(options, (name) =>
      children.get(name)!.run(options.concurrency, options.roundMs),
    )
  } finally {
    await Promise.all([...children.values()].map((child) => child.close()))
  }
}

/**
 * Compares `clients` against `baseline` with {@link interleavedInChildren} (16 callers, the `BENCH_ROUNDS` and
 * `BENCH_ROUND_MS` settings) and returns one row per client: throughput, its ratio, client CPU per call, and
 * the CPU ratio.
 */
export async function compareClients(options: {
  /** The bench's name, for the rows. */
  readonly bench: string
  /** The set-up, for the rows. */
  readonly case: string
  /** Absolute file URL of a module exporting `createLoad` ({@link LoadModule}). */
  readonly module: string
  readonly clients: readonly string[]
  readonly baseline: string
  readonly config: unknown
}): Promise<BenchRow[]> {
  const { bench, clients, baseline } = options
  const result = await interleavedInChildren({
    module: options.module,
    clients,
    config: options.config,
    baseline,
    concurrency: 16,
    rounds: rounds(),
    roundMs: roundMs(),
    warmupMs: 1000,
  })
  return clients.map((client) => {
    const isBaseline = client === baseline
    return {
      bench,
      case: options.case,
      client,
      'ops/s': Math.round(result.opsPerSecond.get(client)!),
      'throughput ratio': isBaseline ? '(baseline)' : Number(result.ratios.get(client)!.toFixed(3)),
      'client CPU µs/op': Number(result.cpuMicrosPerOp.get(client)!.toFixed(1)),
      'CPU ratio': isBaseline ? '(baseline)' : Number(result.cpuRatios.get(client)!.toFixed(3)),
    }
  })
}

/** Rows of `bench_items`, the table every throughput bench reads by primary key. */
export const ITEM_ROWS = 1000

/** Where a compared client connects: the router's nodes, and the node a plain pool uses. */
export interface ThroughputConfig {
  readonly primary: string
  readonly replicas: readonly string[]
  readonly node: string
}

/** The router's default pool settings, given to every pool a throughput bench compares. */
const POOL_SETTINGS = { max: 10, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 5000 } as const

/** The baseline's plain pool on `config.node`, with the router's pool settings. */
export function plainPool(config: ThroughputConfig): pg.Pool {
  const pool = new pg.Pool({ connectionString: config.node, ...POOL_SETTINGS })
  // pool.end() resolves before its connections close; the server's goodbye as the cluster stops is expected.
  pool.on('error', () => {})
  return pool
}

/** A ready router over `config`'s nodes, with the same pool settings as {@link plainPool}. */
export async function benchRouter(config: ThroughputConfig): Promise<Router> {
  const router = createRouter({
    primary: config.primary,
    replicas: [...config.replicas],
    pool: POOL_SETTINGS,
  })
  await router.ready()
  return router
}

/**
 * Both sides of a comparison must have worked the same server, or it means nothing: checks that `servers` nodes
 * (of the role the set-up reads from) served the client's statements, and no other node.
 */
export function assertServedBy(client: string, router: Router, config: ThroughputConfig, servers = 1): void {
  const servedBy = router.status().filter((status) => status.served > 0)
  const expected = config.replicas.length > 0 ? 'replica' : 'primary'
  if (servedBy.length !== servers || servedBy.some((status) => status.role !== expected)) {
    throw new Error(
      `${client}: statements were served by ${servedBy.map((s) => s.name).join(', ') || 'no node'}`,
    )
  }
}

/**
 * The two set-ups every throughput bench measures on a fresh one-replica cluster seeded with `bench_items`: a
 * router with one replica, whose reads all land on it (compared with a plain pool on that replica), and a router
 * with a primary only (compared with a plain pool on the primary). `clients(primaryOnly)` names the clients of a
 * set-up; `module` exports their `createLoad(client, config: ThroughputConfig)`.
 */
export function runThroughputBench(options: {
  readonly bench: string
  readonly module: string
  readonly baseline: string
  readonly clients: (primaryOnly: boolean) => readonly string[]
}): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    await cluster.primary.query(`CREATE TABLE bench_items (id integer PRIMARY KEY, label text NOT NULL);
      INSERT INTO bench_items SELECT g, 'item ' || g FROM generate_series(1, ${ITEM_ROWS}) AS g;
      ANALYZE bench_items`)
    await cluster.waitForReplication()
    const replica = cluster.replicas[0]!.url
    const primary = cluster.primary.url
    const setups: Array<[string, ThroughputConfig]> = [
      ['one replica (reads on it)', { primary, replicas: [replica], node: replica }],
      ['primary only', { primary, replicas: [], node: primary }],
    ]
    const rows: BenchRow[] = []
    for (const [setup, config] of setups) {
      const clients = options.clients(config.replicas.length === 0)
      rows.push(...(await compareClients({ ...options, case: setup, clients, config })))
    }
    return rows
  })
}

/** True when `importMetaUrl` is the file node was started with (a bench run on its own). */
export function isMain(importMetaUrl: string): boolean {
  return process.argv[1] !== undefined && importMetaUrl === pathToFileURL(process.argv[1]).href
}
