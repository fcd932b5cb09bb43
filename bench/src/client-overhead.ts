/**
 * What pgroute costs on the client, on its own: the CPU time per statement of Kysely over `PgRouteDialect` (every
 * query on a lazily pinned `RoutedClient`: the pinned-client path), of a Drizzle transaction over `pgrouteDrizzle`
 * (on a `router.pool.connect()` client), of a `router.pool.connect()` client, and of `router.pool.query`, each
 * beside the same code over a plain `pg.Pool` (goal: within 1 µs of client CPU per query). Every pool here answers
 * statements from memory, one turn of the event loop after each call, and hands out connections as pg-pool does
 * (next tick), so that the figures are the client code's and not the server's or the network's: they stay
 * readable on a busy machine, where `kysely-throughput` and `core-throughput` (real servers) are not. The router's
 * nodes are real servers all the same (a one-replica cluster), for its health probes: reads go to the replica as
 * they would.
 *
 * Each client runs in a process of its own, rounds alternate between them (see `interleavedInChildren`); `CPU
 * µs/op` is the median of the per-round figures; `CPU Δ µs/query` the median over rounds of the difference from the
 * baseline of its group in the same round, divided by the statements of one call (three for a Drizzle
 * transaction: `BEGIN`, the select, `COMMIT`), and `Δ middle half` the quartiles of those differences.
 * `BENCH_ROUNDS` and `BENCH_ROUND_MS` set the length.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/client-overhead.ts`
 */
import { EventEmitter } from 'node:events'
import { createRouter, type Router } from '@pgroute/core'
import { pgrouteDrizzle } from '@pgroute/drizzle'
import { PgRouteDialect } from '@pgroute/kysely'
import { eq } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { integer, pgTable, text } from 'drizzle-orm/pg-core'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { roundMs, rounds, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import { pairedDelta } from './interleaved-rounds.js'
import { interleavedInChildren, type Load } from './load-child-process.js'

export const name = 'client-overhead'

/** The nodes' URLs (real servers, for the router's probes). */
interface OverheadConfig {
  readonly primary: string
  readonly replica: string
}

type Callback = (error: Error | null, result?: pg.QueryResult) => void

/** pg's promise forms add a `.catch` that gives the error the caller's stack: one more promise, as here. */
function rethrow(error: Error): never {
  Error.captureStackTrace(error)
  throw error
}

/**
 * A connection that answers every statement with one row, one turn of the event loop later (`setImmediate`: where
 * pg's answer comes from, the socket, is a turn of the loop too). It reads the statement's text as pg does to send
 * it, and the promise form costs what pg's does (its promise, and the `.catch` of {@link rethrow}). `rowMode:
 * 'array'` (Drizzle's selects) gets its row as an array.
 */
class MemoryClient extends EventEmitter {
  readonly #idle: MemoryClient[]
  /** pg-pool's `release`, bound once per connection as pg-pool binds it. */
  readonly done = () => this.release()

  constructor(idle: MemoryClient[]) {
    super()
    this.#idle = idle
  }

  query(statement: unknown, values?: unknown[] | Callback, callback?: Callback): unknown {
    // pg writes the text into its outgoing buffer (`Buffer.byteLength`, then `write`): a text an ORM compiled in
    // pieces becomes one flat string there, whoever else reads it first (as the router does, to route it).
    Buffer.byteLength(typeof statement === 'string' ? statement : (statement as { text: string }).text)
    const done = typeof values === 'function' ? values : callback
    const id = Array.isArray(values) ? values[0] : 0
    const arrays = (statement as { rowMode?: string } | null)?.rowMode === 'array'
    const result = {
      command: 'SELECT',
      rowCount: 1,
      oid: 0,
      fields: [],
      rows: [arrays ? [id, 'item'] : { id, label: 'item' }],
    }
    if (done) {
      setImmediate(done, null, result)
      return undefined
    }
    return new Promise((resolve) => setImmediate(resolve, result)).catch(rethrow)
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
 * options name a real server: the router's probes connect there. An idle connection is handed out as pg-pool hands
 * one out, on the next tick (`process.nextTick`), through a promise with a `.catch` in the promise form; `query()`
 * runs as pg-pool's: a checkout and the statement in callback form, one promise for the caller.
 */
class MemoryPool extends pg.Pool {
  readonly #idle: MemoryClient[] = []

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's overloads.
  override connect(callback?: (...args: any[]) => void): any {
    const client = this.#idle.pop() ?? new MemoryClient(this.#idle)
    if (callback !== undefined) {
      process.nextTick(callback, undefined, client, client.done)
      return undefined
    }
    return new Promise((resolve) => process.nextTick(resolve, client)).catch(rethrow)
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's overloads.
  override query(text: any, values?: any): any {
    return new Promise((resolve, reject) => {
      this.connect((_: undefined, client: MemoryClient) => {
        client.query(text, values, (error, result) => {
          client.release()
          if (error) reject(error)
          else resolve(result)
        })
      })
    }).catch(rethrow)
  }

  override end(): Promise<void> {
    return Promise.resolve()
  }
}

interface Item {
  bench_items: { id: number; label: string }
}

const SELECT = 'SELECT id, label FROM bench_items WHERE id = $1'

const items = pgTable('bench_items', {
  id: integer('id').primaryKey(),
  label: text('label').notNull(),
})

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

/** A Drizzle transaction running one point select (`BEGIN`, the select, `COMMIT`: three statements). */
function drizzleTransaction(db: NodePgDatabase): Load['op'] {
  return async (call) => {
    const rows = await db.transaction((tx) => tx.select().from(items).where(eq(items.id, call)))
    if (rows.length !== 1) throw new Error('expected one row')
  }
}

/** Compared clients, the first its baseline, each made in a child process of its own. */
interface Group {
  /** Statements one call runs: `CPU Δ µs/query` is the difference per call divided by it. */
  readonly statements: number
  readonly clients: Readonly<Record<string, (config: OverheadConfig) => Promise<Load>>>
}

/** The compared clients by group: the first of each group is its baseline. */
const GROUPS: Record<string, Group> = {
  'Kysely (pinned client)': {
    statements: 1,
    clients: {
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
  },
  'Drizzle transaction (pinned client)': {
    statements: 3,
    clients: {
      'drizzle(pg.Pool)': async (config) => {
        const pool = new MemoryPool({ connectionString: config.primary })
        return { op: drizzleTransaction(drizzle({ client: pool })), close: () => pool.end() }
      },
      pgrouteDrizzle: async (config) => {
        const router = await memoryRouter(config)
        return { op: drizzleTransaction(pgrouteDrizzle(router)), close: () => router.end() }
      },
    },
  },
  'pool.connect() client': {
    statements: 1,
    clients: {
      'pg.Pool client': async (config) => {
        const pool = new MemoryPool({ connectionString: config.replica })
        return { op: clientSelect(pool), close: () => pool.end() }
      },
      'router.pool client': async (config) => {
        const router = await memoryRouter(config)
        return { op: clientSelect(router.pool), close: () => router.end() }
      },
    },
  },
  'pool.query': {
    statements: 1,
    clients: {
      'pg.Pool.query': async (config) => {
        const pool = new MemoryPool({ connectionString: config.replica })
        return { op: poolSelect(pool), close: () => pool.end() }
      },
      'router.pool.query': async (config) => {
        const router = await memoryRouter(config)
        return { op: poolSelect(router.pool), close: () => router.end() }
      },
    },
  },
}

/** Builds one compared client, in a child process of its own. */
export function createLoad(client: string, config: OverheadConfig): Promise<Load> {
  for (const { clients } of Object.values(GROUPS)) if (clients[client]) return clients[client](config)
  throw new Error(`unknown client ${client}`)
}

/** Measures every group on a fresh one-replica cluster (its servers only answer the router's probes). */
export function run(): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    const config: OverheadConfig = { primary: cluster.primary.url, replica: cluster.replicas[0]!.url }
    const rows: BenchRow[] = []
    for (const [group, { statements, clients }] of Object.entries(GROUPS)) {
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
      for (const client of names) {
        const delta = pairedDelta(result.cpuMicrosPerRound, client, baseline, statements)
        const isBaseline = client === baseline
        rows.push({
          bench: name,
          group,
          client,
          'ops/s': Math.round(result.opsPerSecond.get(client)!),
          'CPU µs/op': Number(result.cpuMicrosPerOp.get(client)!.toFixed(2)),
          'statements/op': statements,
          'CPU Δ µs/query': isBaseline ? '(baseline)' : Number(delta.median.toFixed(2)),
          'Δ middle half': isBaseline ? '' : `${delta.low.toFixed(2)} to ${delta.high.toFixed(2)}`,
          'GC µs/op': Number(result.gcMicrosPerOp.get(client)!.toFixed(2)),
        })
      }
    }
    return rows
  })
}

if (isMain(import.meta.url)) console.table(await run())
