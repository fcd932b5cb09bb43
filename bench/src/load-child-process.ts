/**
 * Clients under load, each in a child process of its own (`load-child.ts`), measured in interleaved rounds.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type InterleavedResult, type LoopFigures, measureRounds, median } from './interleaved-rounds.js'

/** A client under load, built in a child process by a module's `createLoad` (see {@link interleavedInChildren}). */
export interface Load {
  /** One call, e.g. one query; gets a running call number. */
  readonly op: (call: number) => Promise<unknown>
  /** Ends pools and routers. */
  readonly close: () => Promise<void>
}

/** What a module measured with {@link interleavedInChildren} exports. */
export interface LoadModule {
  /** Builds the client named `client` with the module's `config`, in the calling child process. */
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
 * `module`'s `createLoad`. Sharing one process, clients share one JIT: the code they have in common (pg's) gets
 * optimised for a mix no application runs, and whichever client differs more from the others pays for it.
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
  /**
   * By client name: a reading of the CPU time (µs) of another process the client's statements pass through (a
   * proxy), taken before and after each of the client's turns, so that its cost per call can be reported too.
   */
  readonly proxyCpuMicros?: Readonly<Record<string, () => number>>
}): Promise<InterleavedResult & { readonly proxyCpuMicrosPerOp: ReadonlyMap<string, number> }> {
  const children = new Map(
    options.clients.map((client) => [client, new LoadChild(options.module, client, options.config)]),
  )
  const proxyCpu = new Map<string, number[]>()
  try {
    for (const child of children.values()) await child.ready()
    for (const child of children.values()) await child.run(options.concurrency, options.warmupMs ?? 500)
    const result = await measureRounds(options, async (name) => {
      const readCpu = options.proxyCpuMicros?.[name]
      const before = readCpu?.()
      const figures = await children.get(name)!.run(options.concurrency, options.roundMs)
      if (readCpu && before !== undefined) {
        const perOp = proxyCpu.get(name) ?? []
        perOp.push((readCpu() - before) / figures.calls)
        proxyCpu.set(name, perOp)
      }
      return figures
    })
    const proxyCpuMicrosPerOp = new Map([...proxyCpu].map(([name, values]) => [name, median(values)]))
    return { ...result, proxyCpuMicrosPerOp }
  } finally {
    await Promise.all([...children.values()].map((child) => child.close()))
  }
}
