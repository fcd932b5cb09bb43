/**
 * What every throughput bench shares: the compared clients as a map, the pools they get, the check that both
 * sides of a comparison worked the same server, and the two set-ups measured on a fresh cluster.
 */
import type { Cluster } from '@pgroute/cluster'
import { createRouter, type Router, type RouterOptions } from '@pgroute/core'
import pg from 'pg'
import { roundMs, rounds, withCluster } from './bench-environment.js'
import type { BenchRow } from './bench-module.js'
import { interleavedInChildren, type Load } from './load-child-process.js'

/** Rows of `bench_items`, the table every throughput bench reads by primary key. */
export const ITEM_ROWS = 1000

/** Where a compared client connects: the router's nodes, and the node a plain pool uses. */
export interface ThroughputConfig {
  /** URL of the router's primary. */
  readonly primary: string
  /** URLs of the router's replicas: one, or none in the primary-only set-up. */
  readonly replicas: readonly string[]
  /** URL of the server the baseline's plain pool uses: the one the router's reads land on. */
  readonly node: string
}

/** One compared client: how its child process builds it, and whether it only runs in the primary-only set-up. */
export interface ClientSpec {
  /** Builds the client in its child process, connected as `config` says. */
  readonly create: (config: ThroughputConfig) => Promise<Load>
  /** Measured only in the primary-only set-up (e.g. a client pinned to the primary). Default false. */
  readonly primaryOnly?: boolean
}

/** The clients of a throughput bench by name, in the order their rows are printed. */
export type ClientMap = Readonly<Record<string, ClientSpec>>

/** A bench module's `createLoad`: builds the client named `client` of `clients`, or throws naming it. */
export function clientLoader(
  clients: ClientMap,
): (client: string, config: ThroughputConfig) => Promise<Load> {
  return (client, config) => {
    const spec = clients[client]
    if (spec === undefined)
      throw new Error(`unknown client ${client}; known: ${Object.keys(clients).join(', ')}`)
    return spec.create(config)
  }
}

/** The router's default pool settings, given to every pool a throughput bench compares. */
export const POOL_SETTINGS = { max: 10, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 5000 } as const

/** The baseline's plain pool on `config.node`, with the router's pool settings. */
/** The statement every core throughput client runs: a point select by primary key. */
const POINT_SELECT = 'SELECT id, label FROM bench_items WHERE id = $1'

/** A `pg`-style query function (a pool's, a router's, or one wrapped in a span). */
export type PointQuery = (text: string, values: unknown[]) => Promise<pg.QueryResult>

/** One operation of a closed loop: the point select of row `call`, checked to return exactly that row. */
export function pointSelect(query: PointQuery): (call: number) => Promise<void> {
  return async (call) => {
    const id = (call % ITEM_ROWS) + 1
    const { rows } = await query(POINT_SELECT, [id])
    if (rows.length !== 1) throw new Error(`expected one row for id ${id}`)
  }
}

/** The baseline client: point selects on a plain `pg.Pool` with the router's pool settings. */
export async function plainPoolLoad(config: ThroughputConfig): Promise<Load> {
  const pool = plainPool(config)
  return { op: pointSelect((text, values) => pool.query(text, values)), close: () => pool.end() }
}

export function plainPool(config: ThroughputConfig): pg.Pool {
  const pool = new pg.Pool({ connectionString: config.node, ...POOL_SETTINGS })
  // pool.end() resolves before its connections close; the server's goodbye as the cluster stops is expected.
  pool.on('error', () => {})
  return pool
}

/** A ready router over `config`'s nodes, with the same pool settings as {@link plainPool}, and `options`. */
export async function benchRouter(
  config: ThroughputConfig,
  options: Omit<RouterOptions, 'primary'> = {},
): Promise<Router> {
  const router = createRouter({
    ...options,
    primary: config.primary,
    replicas: [...config.replicas],
    pool: POOL_SETTINGS,
  })
  await router.ready()
  return router
}

/**
 * A client named `client` running point selects through `router` (`router.pool.query` unless `query` says
 * otherwise); on close, checks it worked the node the set-up reads from, then ends the router.
 */
export function routerLoad(
  client: string,
  config: ThroughputConfig,
  router: Router,
  query: PointQuery = (text, values) => router.pool.query(text, values),
): Load {
  return {
    op: pointSelect(query),
    close: async () => {
      assertServedBy(client, router, config)
      await router.end()
    },
  }
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
 * Compares `clients` against `baseline` with {@link interleavedInChildren} (16 callers, the `BENCH_ROUNDS` and
 * `BENCH_ROUND_MS` settings) and returns one row per client: throughput, its ratio, client CPU per call, the
 * CPU ratio, and the part of the CPU spent collecting garbage.
 */
async function compareClients(options: {
  /** The bench's name, for the rows. */
  readonly bench: string
  /** The set-up, for the rows. */
  readonly case: string
  /** Absolute file URL of a module exporting `createLoad` (see {@link clientLoader}). */
  readonly module: string
  readonly clients: readonly string[]
  readonly baseline: string
  readonly config: ThroughputConfig
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
      'GC µs/op': Number(result.gcMicrosPerOp.get(client)!.toFixed(2)),
    }
  })
}

/** Creates `bench_items` (`ITEM_ROWS` rows) on the primary and waits until the replicas have it. */
export async function seedItems(cluster: Cluster): Promise<void> {
  await cluster.primary.query(`CREATE TABLE bench_items (id integer PRIMARY KEY, label text NOT NULL);
    INSERT INTO bench_items SELECT g, 'item ' || g FROM generate_series(1, ${ITEM_ROWS}) AS g;
    ANALYZE bench_items`)
  await cluster.waitForReplication()
}

/**
 * The two set-ups every throughput bench measures on a fresh one-replica cluster seeded with `bench_items`: a
 * router with one replica, whose reads all land on it (compared with a plain pool on that replica), and a router
 * with a primary only (compared with a plain pool on the primary). `module` exports
 * `createLoad = clientLoader(clients)`.
 */
export function runThroughputBench(options: {
  readonly bench: string
  readonly module: string
  readonly baseline: string
  readonly clients: ClientMap
}): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    await seedItems(cluster)
    const replica = cluster.replicas[0]!.url
    const primary = cluster.primary.url
    const setups: Array<[string, ThroughputConfig]> = [
      ['one replica (reads on it)', { primary, replicas: [replica], node: replica }],
      ['primary only', { primary, replicas: [], node: primary }],
    ]
    const rows: BenchRow[] = []
    for (const [setup, config] of setups) {
      const primaryOnly = config.replicas.length === 0
      const clients = Object.entries(options.clients)
        .filter(([, spec]) => primaryOnly || spec.primaryOnly !== true)
        .map(([client]) => client)
      rows.push(...(await compareClients({ ...options, case: setup, clients, config })))
    }
    return rows
  })
}
