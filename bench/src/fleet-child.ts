/**
 * One process of the `fleet` bench (fleet.ts forks it): holds `count` routers over the same cluster, as that many
 * application instances would, and on request runs light traffic through them, reports its memory, or closes them.
 * Not a bench itself.
 *
 * Light traffic: each router, `rate` times a second (from a random moment within the ramp fleet.ts gives),
 * alternately reads its own row of `fleet_counters` and, in a `router.session()`, increments the row and reads it
 * back (a read-your-writes read, which uses the router's control connections). A read back that returns less
 * than was written counts as a failure, as does any error; a tick whose previous operation has not finished is
 * skipped.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { createRouter, type Router } from '@pgroute/core'
import { APPLICATION_NAMES } from './server-sampler.js'

/** What fleet.ts passes in `BENCH_FLEET_CHILD`. */
export interface FleetChildConfig {
  readonly primary: string
  readonly replicas: readonly string[]
  /** Index of this process's first router in the fleet: router `i` owns row `first + i + 1`. */
  readonly first: number
  readonly count: number
  /**
   * `healthCheck.idleIntervalMs` of every router: `undefined` for the default (adaptive: an idle router probes
   * every 15 s), or `healthCheck.intervalMs` (1000) to probe every second whatever the traffic, as before.
   */
  readonly idleIntervalMs?: number | undefined
}

/** What fleet.ts asks. */
export type FleetAsk =
  | { readonly type: 'memory' }
  | { readonly type: 'traffic'; readonly rate: number; readonly rampMs: number }
  | { readonly type: 'idle' }
  | { readonly type: 'close' }

/** A request of fleet.ts, answered by a message with the same `id`. */
export type FleetRequest = { readonly id: number } & FleetAsk

/** The process's memory after a full garbage collection, in bytes. */
export interface MemoryFigures {
  readonly rss: number
  readonly heapUsed: number
}

/** Answers: `ready` (unasked, once), and one per request. */
export type FleetReply =
  | { readonly type: 'ready'; readonly base: MemoryFigures; readonly error?: string }
  | { readonly id: number; readonly type: 'memory'; readonly memory: MemoryFigures }
  | { readonly id: number; readonly type: 'traffic' }
  | {
      readonly id: number
      readonly type: 'idle'
      readonly ops: number
      readonly failed: number
      readonly skipped: number
    }
  | { readonly id: number; readonly type: 'close' }

const READ = 'SELECT v FROM fleet_counters WHERE id = $1'
const WRITE = 'UPDATE fleet_counters SET v = v + 1 WHERE id = $1 RETURNING v'

function memory(): MemoryFigures {
  globalThis.gc?.() // forked with --expose-gc: what stays is what the routers hold
  const { rss, heapUsed } = process.memoryUsage()
  return { rss, heapUsed }
}

function send(reply: FleetReply): void {
  process.send?.(reply)
}

/** Light traffic through every router until {@link stop}. */
class Traffic {
  readonly #timers: NodeJS.Timeout[] = []
  readonly #running = new Set<Promise<void>>()
  ops = 0
  failed = 0
  skipped = 0
  #firstFailure: unknown

  /** Each router starts at a random moment within `rampMs`, then runs `rate` operations a second. */
  constructor(routers: readonly Router[], first: number, rate: number, rampMs: number) {
    const period = 1000 / rate
    routers.forEach((router, i) => {
      const id = first + i + 1
      let tick = 0
      let busy = false
      const run = () => {
        if (busy) {
          this.skipped++
          return
        }
        busy = true
        const op = (tick++ % 2 === 0 ? this.#read(router, id) : this.#writeThenRead(router, id))
          .then(() => {
            this.ops++
          })
          .catch((error) => {
            this.failed++
            this.#firstFailure ??= error
          })
          .finally(() => {
            busy = false
            this.#running.delete(op)
          })
        this.#running.add(op)
      }
      const start = setTimeout(() => {
        run()
        this.#timers.push(setInterval(run, period))
      }, Math.random() * rampMs)
      this.#timers.push(start)
    })
  }

  async #read(router: Router, id: number): Promise<void> {
    const { rows } = await router.query<{ v: string }>(READ, [id])
    if (rows.length !== 1) throw new Error(`fleet_counters row ${id} not found`)
  }

  async #writeThenRead(router: Router, id: number): Promise<void> {
    await router.session(async () => {
      const written = await router.query<{ v: string }>(WRITE, [id])
      const read = await router.query<{ v: string }>(READ, [id])
      if (BigInt(read.rows[0]!.v) < BigInt(written.rows[0]!.v)) {
        throw new Error(`stale read in a session: wrote ${written.rows[0]!.v}, read ${read.rows[0]!.v}`)
      }
    })
  }

  /** Stops the timers and waits for operations in flight; logs the first failure, if any. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    await Promise.allSettled([...this.#running])
    if (this.#firstFailure !== undefined) console.error('fleet child, first failure:', this.#firstFailure)
  }
}

const config = JSON.parse(process.env.BENCH_FLEET_CHILD ?? '{}') as FleetChildConfig
const base = memory()
const routers: Router[] = []
let traffic: Traffic | undefined

const closeAll = () => Promise.allSettled(routers.map((router) => router.end()))

process.on('message', async (request: FleetRequest) => {
  switch (request.type) {
    case 'memory':
      send({ id: request.id, type: 'memory', memory: memory() })
      return
    case 'traffic':
      traffic = new Traffic(routers, config.first, request.rate, request.rampMs)
      send({ id: request.id, type: 'traffic' })
      return
    case 'idle': {
      const stopped = traffic
      traffic = undefined
      await stopped?.stop()
      send({
        id: request.id,
        type: 'idle',
        ops: stopped?.ops ?? 0,
        failed: stopped?.failed ?? 0,
        skipped: stopped?.skipped ?? 0,
      })
      return
    }
    case 'close':
      await traffic?.stop()
      await closeAll()
      send({ id: request.id, type: 'close' })
      process.disconnect()
  }
})
// The parent disconnects after `close`, or is gone (killed): either way, end the routers and leave.
process.once('disconnect', () => void closeAll().then(() => process.exit()))

/** How long a router whose first probe round failed may take to see every node up. */
const SETTLE_TIMEOUT_MS = 60_000

/**
 * Resolves once `router` sees every node up. A first probe that times out on a busy machine (500 ms by default)
 * rejects `ready()`, but the router goes on probing and comes up by itself: the fleet is measured once it has.
 */
async function settled(router: Router): Promise<void> {
  try {
    await router.ready()
    return
  } catch (error) {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS
    while (!router.status().every((node) => node.healthy)) {
      if (Date.now() > deadline) throw error
      await sleep(100)
    }
  }
}

/**
 * Routers are started `START_BATCH` at a time, each batch once the one before is ready: a fleet's instances do not
 * all start in the same millisecond, and a hundred SCRAM logins at once on a busy 2-core machine take longer
 * than a first probe may (`healthCheck.timeoutMs`, 500 ms by default).
 */
const START_BATCH = 10

try {
  for (let started = 0; started < config.count; started += START_BATCH) {
    const batch = Array.from({ length: Math.min(START_BATCH, config.count - started) }, () =>
      createRouter({
        primary: { connectionString: config.primary, application_name: APPLICATION_NAMES.app },
        replicas: config.replicas.map((url) => ({
          connectionString: url,
          application_name: APPLICATION_NAMES.app,
        })),
        ...(config.idleIntervalMs === undefined
          ? {}
          : { healthCheck: { idleIntervalMs: config.idleIntervalMs } }),
      }),
    )
    routers.push(...batch)
    await Promise.all(batch.map(settled))
  }
  send({ type: 'ready', base })
} catch (error) {
  send({ type: 'ready', base, error: error instanceof Error ? error.message : String(error) })
}
