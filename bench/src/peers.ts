/**
 * pgroute against its peers on the same primary + replica, side by side in one run: a plain `pg.Pool` (the
 * baseline), pgroute (`router.pool.query` and `router.query`), pgpool-II (a proxy: Debian's `pgpool2`, load
 * balancing in streaming-replication mode) and the AWS Advanced NodeJS Wrapper (in-process, its
 * `readWriteSplitting` plugin). Two workloads, 16 concurrent callers each:
 *
 * - `read-only`: point selects by primary key. Every contender reads the replica; the baseline pool is on it.
 * - `90/10 read/write`: nine point selects, then one single-row `UPDATE`, in turn. The contenders send reads to the
 *   replica and writes to the primary; the baseline pool (an application that does not split) sends everything to
 *   the primary.
 *
 * Reported per contender: throughput and its ratio to the baseline's (median of per-round ratios), the client
 * process's CPU per statement and its ratio, the proxy's own CPU per statement (pgpool-II's processes, read from
 * /proc before and after each of its turns), and the median and 99th percentile of one statement's time. A peer
 * that is not installed is a row saying why. How each peer is set up: bench/README.md.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/peers.ts`
 */
import type { QueryResult } from 'pg'
import { AwsWrapperPool, type AwsWrapperTarget, awsWrapperUnavailable } from './aws-wrapper-pool.js'
import { roundMs, rounds, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import { interleavedInChildren, type Load } from './load-child-process.js'
import { type Pgpool, pgpoolUnavailable, startPgpool } from './pgpool-process.js'
import {
  benchRouter,
  ITEM_ROWS,
  plainPool,
  pointSelect,
  seedItems,
  type ThroughputConfig,
} from './throughput-bench.js'

export const name = 'peers'

/** The compared workloads. */
const WORKLOADS = ['read-only', '90/10 read/write'] as const
type Workload = (typeof WORKLOADS)[number]

/** What each child process gets: the cluster's URLs, the workload, and where the peers listen. */
interface PeersConfig extends ThroughputConfig {
  readonly workload: Workload
  /** pgpool-II's URL, when it runs. */
  readonly pgpool: string | undefined
  readonly aws: AwsWrapperTarget
}

/** One statement of a workload, sent through a contender; `readOnly` says which kind it is. */
type Send = (readOnly: boolean, text: string, values: unknown[]) => Promise<QueryResult>

const WRITE = 'UPDATE bench_counters SET v = v + 1 WHERE id = $1'

/** The workload's operation number `call`, through `send`: a point select, or (mixed, every tenth) an update. */
function workloadOp(workload: Workload, send: Send): (call: number) => Promise<void> {
  const read = pointSelect((text, values) => send(true, text, values))
  if (workload === 'read-only') return read
  return async (call) => {
    if (call % 10 !== 9) return read(call)
    const id = (call % ITEM_ROWS) + 1
    const { rowCount } = await send(false, WRITE, [id])
    if (rowCount !== 1) throw new Error(`expected to update one row of bench_counters, updated ${rowCount}`)
  }
}

const BASELINE = 'pg.Pool'
const PGPOOL = 'pgpool-II'
const AWS = 'AWS Advanced NodeJS Wrapper'

/** A plain pool on `url` running the workload. */
function plainLoad(config: PeersConfig, url: string): Load {
  const pool = plainPool({ ...config, node: url })
  return {
    op: workloadOp(config.workload, (_, text, values) => pool.query(text, values)),
    close: () => pool.end(),
  }
}

/** A router over the primary and the replica; on close, checks reads went to the replica and writes to the primary. */
async function routerLoad(config: PeersConfig, via: 'pool' | 'query'): Promise<Load> {
  const router = await benchRouter(config)
  const send: Send =
    via === 'pool'
      ? (_, text, values) => router.pool.query(text, values)
      : (_, text, values) => router.query(text, values)
  return {
    op: workloadOp(config.workload, send),
    close: async () => {
      const served = new Map(router.status().map((status) => [status.role, status.served]))
      await router.end()
      const [primary, replica] = [served.get('primary') ?? 0, served.get('replica') ?? 0]
      const expectWrites = config.workload !== 'read-only'
      // Nothing served: the run ended before this client's turn (another one failed), nothing to check.
      if (primary + replica > 0 && (replica === 0 || primary > 0 !== expectWrites)) {
        throw new Error(
          `router.${via}: served ${JSON.stringify(Object.fromEntries(served))} in ${config.workload}`,
        )
      }
    },
  }
}

/** The wrapper's clients; on close, checks that read-only mode reads a server in recovery and write mode does not. */
async function awsLoad(config: PeersConfig): Promise<Load> {
  const pool = await AwsWrapperPool.connect(config.aws, 10)
  return {
    op: workloadOp(config.workload, (readOnly, text, values) => pool.query(readOnly, text, values)),
    close: async () => {
      try {
        for (const readOnly of [true, false]) {
          const { rows } = await pool.query(readOnly, 'SELECT pg_is_in_recovery() AS standby', [])
          if (rows[0]?.standby !== readOnly) {
            throw new Error(
              `${AWS}: read-only ${readOnly} ran on a server with pg_is_in_recovery() = ${rows[0]?.standby}`,
            )
          }
        }
      } finally {
        await pool.end()
      }
    },
  }
}

/** Builds one contender in its child process (see `interleavedInChildren`). */
export async function createLoad(client: string, config: PeersConfig): Promise<Load> {
  switch (client) {
    case BASELINE:
    case `${BASELINE} (control)`:
      return plainLoad(config, config.node)
    case 'router.pool.query':
      return routerLoad(config, 'pool')
    case 'router.query':
      return routerLoad(config, 'query')
    case PGPOOL:
      if (config.pgpool === undefined) throw new Error('pgpool-II is not running')
      return plainLoad(config, config.pgpool)
    case AWS:
      return awsLoad(config)
    default:
      throw new Error(`unknown contender ${client}`)
  }
}

/** Every contender, in the order of their rows. */
const CONTENDERS = ['router.pool.query', 'router.query', PGPOOL, AWS, BASELINE, `${BASELINE} (control)`]

/** Measures both workloads on a fresh one-replica cluster, with pgpool-II in front of it where installed. */
export function run(): Promise<BenchRow[]> {
  return withCluster({ replicas: 1 }, async (cluster) => {
    await cluster.primary.query(`CREATE TABLE bench_counters (id integer PRIMARY KEY, v bigint NOT NULL);
      INSERT INTO bench_counters SELECT g, 0 FROM generate_series(1, ${ITEM_ROWS}) AS g`)
    await seedItems(cluster)
    const skipped = new Map<string, string>()
    const pgpoolMissing = pgpoolUnavailable()
    if (pgpoolMissing) skipped.set(PGPOOL, pgpoolMissing)
    const awsMissing = await awsWrapperUnavailable()
    if (awsMissing) skipped.set(AWS, awsMissing)
    const pgpool: Pgpool | undefined = pgpoolMissing ? undefined : await startPgpool(cluster)
    try {
      const replica = cluster.replicas[0]!
      const { password } = cluster.primary.connectionConfig
      const rows: BenchRow[] = []
      for (const workload of WORKLOADS) {
        const config: PeersConfig = {
          workload,
          primary: cluster.primary.url,
          replicas: [replica.url],
          node: workload === 'read-only' ? replica.url : cluster.primary.url,
          pgpool: pgpool?.url,
          aws: {
            primary: { host: cluster.primary.host, port: cluster.primary.port },
            replica: { host: replica.host, port: replica.port },
            user: cluster.user,
            password,
            database: cluster.database,
          },
        }
        const clients = CONTENDERS.filter((client) => !skipped.has(client))
        const selectsBefore = await pgpool?.nodes()
        const result = await interleavedInChildren({
          module: import.meta.url,
          clients,
          config,
          baseline: BASELINE,
          concurrency: 16,
          rounds: rounds(),
          roundMs: roundMs(),
          warmupMs: 1000,
          proxyCpuMicros: pgpool ? { [PGPOOL]: () => pgpool.cpuMicros() } : {},
        })
        if (pgpool && selectsBefore) await assertPgpoolBalanced(pgpool, selectsBefore)
        for (const client of CONTENDERS) {
          const reason = skipped.get(client)
          const isBaseline = client === BASELINE
          const figure = (map: ReadonlyMap<string, number>, digits: number) =>
            reason ? '-' : Number(map.get(client)!.toFixed(digits))
          const proxy = result.proxyCpuMicrosPerOp.get(client)
          rows.push({
            bench: name,
            case: workload,
            client,
            'ops/s': reason ? '-' : Math.round(result.opsPerSecond.get(client)!),
            'throughput ratio': isBaseline ? '(baseline)' : figure(result.ratios, 3),
            'client CPU µs/op': figure(result.cpuMicrosPerOp, 1),
            'CPU ratio': isBaseline ? '(baseline)' : figure(result.cpuRatios, 3),
            'proxy CPU µs/op': proxy === undefined ? '-' : Number(proxy.toFixed(1)),
            'p50 ms': figure(result.p50Ms, 3),
            'p99 ms': figure(result.p99Ms, 3),
            note: reason ? `skipped: ${reason}` : '',
          })
        }
      }
      return rows
    } finally {
      await pgpool?.stop()
    }
  })
}

/** pgpool-II must have sent the reads of the run to the replica (weight 1), not the primary (weight 0). */
async function assertPgpoolBalanced(
  pgpool: Pgpool,
  before: Awaited<ReturnType<Pgpool['nodes']>>,
): Promise<void> {
  const after = await pgpool.nodes()
  const grown = after.map((node, i) => ({
    role: node.role,
    selects: node.selects - (before[i]?.selects ?? 0),
  }))
  const standby = grown.find((node) => node.role === 'standby')?.selects ?? 0
  const primary = grown.find((node) => node.role === 'primary')?.selects ?? 0
  if (standby === 0 || primary > standby / 100) {
    throw new Error(
      `pgpool-II did not send the reads to the replica: SELECTs per node ${JSON.stringify(grown)}`,
    )
  }
}

if (isMain(import.meta.url)) console.table(await run())
