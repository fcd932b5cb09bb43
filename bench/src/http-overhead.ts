/**
 * What `@pgroute/http`'s read-your-writes middleware costs a request that does not touch the database: for
 * Express, Fastify and Hono, one server process without the middleware (the baseline), a second one the same
 * (`(control)`: the noise of the run), one with a middleware that only passes the request on (what the framework
 * charges for a middleware step), one without it but with AsyncLocalStorage in use (its `run()` called once
 * at start-up and never per request: what any application using sessions, OpenTelemetry or a request-scoped
 * logger already pays on Node 20, as Node's async hooks are then on for every promise of the process), one with a
 * middleware that only passes the request on while AsyncLocalStorage is in use (the framework's own steps for a
 * middleware, and their promises under the async hooks), one with a middleware that passes it on inside
 * `AsyncLocalStorage.run()` of a new store per request (the least any middleware that carries a session in the
 * async context costs there), one with the read-your-writes middleware, and one with it where every request
 * carries a token (as a browser with the cookie does). Each server runs in a process of its own and answers
 * `GET /ping` with a small JSON body; this process drives it over keep-alive connections (16 callers, closed
 * loop) in interleaved rounds. Figures per server: requests per second and the server process's CPU time per
 * request, with their ratios to the baseline (below 1: the server costs more).
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/http-overhead.ts`;
 * `BENCH_HTTP_FRAMEWORKS=express,hono` measures only those frameworks.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { Agent, request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createRouter } from '@pgroute/core'
import { roundMs, rounds, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import type { ServerSpec } from './http-overhead-server.js'
import { type LoopFigures, measureRounds } from './interleaved-rounds.js'

export const name = 'http-overhead'

const FRAMEWORKS = ['express', 'fastify', 'hono'] as const

/** The frameworks to measure: `BENCH_HTTP_FRAMEWORKS` (comma-separated), else all of them. */
function frameworks(): ReadonlyArray<(typeof FRAMEWORKS)[number]> {
  const listed = process.env.BENCH_HTTP_FRAMEWORKS?.split(',').map((name) => name.trim())
  if (listed === undefined || listed.join('') === '') return FRAMEWORKS
  const unknown = listed.filter((name) => !(FRAMEWORKS as readonly string[]).includes(name))
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_HTTP_FRAMEWORKS: unknown ${unknown.join(', ')} (expected ${FRAMEWORKS.join(', ')})`,
    )
  }
  return FRAMEWORKS.filter((name) => listed.includes(name))
}
const CONCURRENCY = 16

type ChildMessage = { type: 'listening'; port: number } | { type: 'cpu'; user: number; system: number }

/** One server process of `http-overhead-server.ts`. */
class ServerChild {
  readonly #child: ChildProcess
  readonly #messages: ChildMessage[] = []
  #waiting: { resolve: (message: ChildMessage) => void; reject: (error: unknown) => void } | undefined
  #failed: Error | undefined
  port = 0

  constructor(spec: ServerSpec) {
    this.#child = fork(fileURLToPath(new URL('./http-overhead-server.ts', import.meta.url)), {
      env: { ...process.env, BENCH_HTTP_SERVER: JSON.stringify(spec) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#child.on('message', (message: ChildMessage) => {
      const waiting = this.#waiting
      this.#waiting = undefined
      if (waiting) waiting.resolve(message)
      else this.#messages.push(message)
    })
    // One listener for the child's life, not one per message awaited (they would pile up on the child).
    this.#child.once('exit', (code) => {
      this.#failed = new Error(`bench server ${spec.framework} exited (${code})`)
      const waiting = this.#waiting
      this.#waiting = undefined
      waiting?.reject(this.#failed)
    })
  }

  #next(): Promise<ChildMessage> {
    const queued = this.#messages.shift()
    if (queued) return Promise.resolve(queued)
    if (this.#failed) return Promise.reject(this.#failed)
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
    })
  }

  async listening(): Promise<void> {
    const message = await this.#next()
    if (message.type !== 'listening') throw new Error(`unexpected ${message.type} from a bench server`)
    this.port = message.port
  }

  /** The server process's CPU time so far, in microseconds. */
  async cpuMicros(): Promise<number> {
    this.#child.send({ type: 'cpu' })
    const message = await this.#next()
    if (message.type !== 'cpu') throw new Error(`unexpected ${message.type} from a bench server`)
    return message.user + message.system
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    if (this.#child.connected) this.#child.send({ type: 'close' })
    await exited
  }
}

/** `GET /ping` on `port` from `concurrency` callers for `ms`, over keep-alive connections; resolves to the count. */
async function pingLoop(
  port: number,
  concurrency: number,
  ms: number,
  token: string | undefined,
): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const headers = token === undefined ? {} : { 'x-pgroute-token': token }
  const ping = () =>
    new Promise<void>((resolve, reject) => {
      const call = request({ agent, host: '127.0.0.1', port, path: '/ping', headers }, (response) => {
        response.resume()
        response.once('end', () =>
          response.statusCode === 200
            ? resolve()
            : reject(new Error(`GET /ping answered ${response.statusCode}`)),
        )
      })
      call.once('error', reject)
      call.end()
    })
  const deadline = performance.now() + ms
  let done = 0
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          await ping()
          done++
        }
      }),
    )
  } finally {
    agent.destroy()
  }
  return done
}

/** The compared servers of one framework: its middleware, whether the async context is on, and a token sent. */
function servers(framework: string) {
  const plain = { middleware: 'none', asyncContext: false, token: false } as const
  return [
    { name: framework, ...plain },
    { name: `${framework} (control)`, ...plain },
    { name: `${framework} + a no-op middleware`, ...plain, middleware: 'no-op' },
    { name: `${framework}, AsyncLocalStorage on`, ...plain, asyncContext: true },
    {
      name: `${framework} + a no-op middleware, AsyncLocalStorage on`,
      ...plain,
      middleware: 'no-op',
      asyncContext: true,
    },
    {
      name: `${framework} + an AsyncLocalStorage.run() middleware`,
      ...plain,
      middleware: 'als-run',
      asyncContext: true,
    },
    { name: `${framework} + readYourWrites`, ...plain, middleware: 'readYourWrites' },
    {
      name: `${framework} + readYourWrites, token sent`,
      ...plain,
      middleware: 'readYourWrites',
      token: true,
    },
  ] as const
}

/** Measures every framework's servers on a one-replica cluster (the middleware's router needs one). */
export function run(): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    const urls = { primary: cluster.primary.url, replicas: cluster.replicas.map((replica) => replica.url) }
    // A real token, of a real write: what a client that wrote before sends with every later request.
    const router = createRouter(urls)
    const token = await router.session(async () => {
      await router.query('CREATE TABLE IF NOT EXISTS bench_ping (id serial PRIMARY KEY)')
      await router.query('INSERT INTO bench_ping DEFAULT VALUES')
      return router.token()
    })
    await router.end()
    const rows: BenchRow[] = []
    for (const framework of frameworks()) {
      const compared = servers(framework)
      const children = new Map(
        compared.map((server) => [
          server.name,
          new ServerChild({
            framework,
            middleware: server.middleware,
            asyncContext: server.asyncContext,
            ...urls,
          }),
        ]),
      )
      try {
        await Promise.all([...children.values()].map((child) => child.listening()))
        const result = await measureRounds(
          { clients: compared.map((server) => server.name), baseline: framework, rounds: rounds() },
          async (serverName): Promise<LoopFigures> => {
            const child = children.get(serverName)!
            const sends = compared.find((server) => server.name === serverName)!.token
            const cpuBefore = await child.cpuMicros()
            const started = performance.now()
            const done = await pingLoop(child.port, CONCURRENCY, roundMs(), sends ? token : undefined)
            const seconds = (performance.now() - started) / 1000
            const cpu = (await child.cpuMicros()) - cpuBefore
            // The server's CPU is what this bench compares; the ping loop does not time each call.
            return {
              calls: done,
              opsPerSecond: done / seconds,
              cpuMicrosPerOp: cpu / done,
              gcMicrosPerOp: 0,
              p50Ms: Number.NaN,
              p99Ms: Number.NaN,
            }
          },
        )
        for (const server of compared) {
          const isBaseline = server.name === framework
          rows.push({
            framework,
            server: server.name,
            'requests/s': Math.round(result.opsPerSecond.get(server.name)!),
            'throughput ratio': isBaseline
              ? '(baseline)'
              : Number(result.ratios.get(server.name)!.toFixed(3)),
            'server CPU µs/request': Number(result.cpuMicrosPerOp.get(server.name)!.toFixed(1)),
            'CPU ratio': isBaseline ? '(baseline)' : Number(result.cpuRatios.get(server.name)!.toFixed(3)),
          })
        }
      } finally {
        await Promise.all([...children.values()].map((child) => child.close()))
      }
    }
    return rows
  })
}

if (isMain(import.meta.url)) console.table(await run())
