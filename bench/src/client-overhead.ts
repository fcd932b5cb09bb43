/**
 * What pgroute costs on the client, on its own: the CPU time per point select of Kysely over `PgRouteDialect`
 * (every query on a lazily pinned `RoutedClient`: the pinned-client path), of a `router.pool.connect()` client, and
 * of `router.pool.query`, each beside the same code over a plain `pg.Pool` (goal: within 1 µs of client CPU per
 * query). Every pool here answers statements from memory, one turn of the event loop after each call, so that
 * the figures are the client code's and not the server's or the network's: they stay readable on a busy machine,
 * where `kysely-throughput` and `core-throughput` (real servers) are not. The router's nodes are real servers all
 * the same (a one-replica cluster), for its health probes: reads go to the replica as they would.
 *
 * Each client runs in a process of its own, rounds alternate between them (see `interleavedInChildren`); `CPU
 * µs/op` is the median of the per-round figures, `CPU Δ µs/op` its difference from the baseline of its group in the
 * same rounds. `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/client-overhead.ts`
 */
import { EventEmitter } from 'node:events'
import { createRouter, type Router } from '@pgroute/core'
import { PgRouteDialect } from '@pgroute/kysely'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { roundMs, rounds, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import { interleavedInChildren, type Load } from './load-child-process.js'

export const name = 'client-overhead'

/** The nodes' URLs (real servers, for the router's probes). */
interface OverheadConfig {
  readonly primary: string
  readonly replica: string
}

type Callback = (error: Error | null, result?: pg.QueryResult) => void

/** A connection that answers every statement with one row, one turn of the event loop later. */
class MemoryClient extends EventEmitter {
  readonly #idle: MemoryClient[]

  constructor(idle: MemoryClient[]) {
    super()
    this.#idle = idle
  }

  query(_text: unknown, values?: unknown[] | Callback, callback?: Callback): unknown {
    const done = typeof values === 'function' ? values : callback
    const id = Array.isArray(values) ? values[0] : 0
    const result = { command: 'SELECT', rowCount: 1, oid: 0, fields: [], rows: [{ id, label: 'item' }] }
    if (done) {
      setImmediate(done, null, result)
      return undefined
    }
    return new Promise((resolve) => setImmediate(resolve, result))
  }

  release(): void {
    this.#idle.push(this)
  }

  getTransactionStatus(): string {
    return 'I'
  }
}

/**
 * A `pg.Pool` (a real subclass: the router and Kysely take it as one) whose connections answer from memory. Its
 * options name a real server: the router's probes connect there.
 */
class MemoryPool extends pg.Pool {
  readonly #idle: MemoryClient[] = []

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's overloads.
  override connect(callback?: (...args: any[]) => void): any {
    const client = this.#idle.pop() ?? new MemoryClient(this.#idle)
    if (callback === undefined) return Promise.resolve(client)
    setImmediate(callback, undefined, client, () => client.release())
    return undefined
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's overloads.
  override query(text: any, values?: any): any {
    return this.connect().then(async (client: MemoryClient) => {
      try {
        return await client.query(text, values)
      } finally {
        client.release()
      }
    })
  }

  override end(): Promise<void> {
    return Promise.resolve()
  }
}

interface Item {
  bench_items: { id: number; label: string }
}

const SELECT = 'SELECT id, label FROM bench_items WHERE id = $1'

async function memoryRouter(config: OverheadConfig): Promise<Router> {
  const router = createRouter({
    primary: new MemoryPool({ connectionString: config.primary }),
    replicas: [new MemoryPool({ connectionString: config.replica })],
  })
  await router.ready()
  return router
}

/** A Kysely point select, checked to return its row. */
function kyselySelect(db: Kysely<Item>): Load['op'] {
  return async (call) => {
    const rows = await db.selectFrom('bench_items').selectAll().where('id', '=', call).execute()
    if (rows.length !== 1) throw new Error('expected one row')
  }
}

/** A point select on a client checked out for it and released after. */
function clientSelect(pool: pg.Pool): Load['op'] {
  return async (call) => {
    const client = await pool.connect()
    try {
      const { rows } = await client.query(SELECT, [call])
      if (rows.length !== 1) throw new Error('expected one row')
    } finally {
      client.release()
    }
  }
}

/** A point select through `pool.query`. */
function poolSelect(pool: pg.Pool): Load['op'] {
  return async (call) => {
    const { rows } = await pool.query(SELECT, [call])
    if (rows.length !== 1) throw new Error('expected one row')
  }
}

/** The compared clients by group: the first of each group is its baseline. */
const GROUPS: Record<string, Record<string, (config: OverheadConfig) => Promise<Load>>> = {
  'Kysely (pinned client)': {
    PostgresDialect: async (config) => {
      const db = new Kysely<Item>({
        dialect: new PostgresDialect({ pool: new MemoryPool({ connectionString: config.replica }) }),
      })
      return { op: kyselySelect(db), close: () => db.destroy() }
    },
    PgRouteDialect: async (config) => {
      const db = new Kysely<Item>({ dialect: new PgRouteDialect({ router: await memoryRouter(config) }) })
      return { op: kyselySelect(db), close: () => db.destroy() }
    },
  },
  'pool.connect() client': {
    'pg.Pool client': async (config) => {
      const pool = new MemoryPool({ connectionString: config.replica })
      return { op: clientSelect(pool), close: () => pool.end() }
    },
    'router.pool client': async (config) => {
      const router = await memoryRouter(config)
      return { op: clientSelect(router.pool), close: () => router.end() }
    },
  },
  'pool.query': {
    'pg.Pool.query': async (config) => {
      const pool = new MemoryPool({ connectionString: config.replica })
      return { op: poolSelect(pool), close: () => pool.end() }
    },
    'router.pool.query': async (config) => {
      const router = await memoryRouter(config)
      return { op: poolSelect(router.pool), close: () => router.end() }
    },
  },
}

/** Builds one compared client, in a child process of its own. */
export function createLoad(client: string, config: OverheadConfig): Promise<Load> {
  for (const group of Object.values(GROUPS)) if (group[client]) return group[client](config)
  throw new Error(`unknown client ${client}`)
}

/** Measures every group on a fresh one-replica cluster (its servers only answer the router's probes). */
export function run(): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    const config: OverheadConfig = { primary: cluster.primary.url, replica: cluster.replicas[0]!.url }
    const rows: BenchRow[] = []
    for (const [group, clients] of Object.entries(GROUPS)) {
      const names = Object.keys(clients)
      const baseline = names[0]!
      const result = await interleavedInChildren({
        module: import.meta.url,
        clients: names,
        config,
        baseline,
        concurrency: 16,
        rounds: rounds(),
        roundMs: roundMs(),
        warmupMs: 1000,
      })
      const base = result.cpuMicrosPerOp.get(baseline)!
      for (const client of names) {
        const cpu = result.cpuMicrosPerOp.get(client)!
        rows.push({
          bench: name,
          group,
          client,
          'ops/s': Math.round(result.opsPerSecond.get(client)!),
          'CPU µs/op': Number(cpu.toFixed(2)),
          'CPU Δ µs/op': client === baseline ? '(baseline)' : Number((cpu - base).toFixed(2)),
          'GC µs/op': Number(result.gcMicrosPerOp.get(client)!.toFixed(2)),
        })
      }
    }
    return rows
  })
}

if (isMain(import.meta.url)) console.table(await run())
