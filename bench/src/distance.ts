/**
 * Read latency and cross-zone traffic with one replica near and one far: `balance: 'random'` against
 * `balance: 'nearest'`, and a router with the near replica alone as the reference, side by side in one run.
 *
 * One primary and two replicas on loopback. Each replica is reached through a delay proxy of `@pgroute/cluster`
 * (so both pay the same proxy hop): the near one adds `BENCH_DISTANCE_NEAR` (default 0 ms, loopback's own round
 * trip), the far one `BENCH_DISTANCE_FAR` (default 2 ms) to every round trip. The router runs in zone `zone-a`, the
 * near replica too, the far one in `zone-b`; `nearest (rtt)` is given no zones and goes by measured round trips.
 *
 * Two set-ups: `headroom` (8 callers, 10 connections per replica: the near replica always has a free connection)
 * and `saturated` (16 callers, 4 connections per replica: the near replica's pool is full, reads spill over).
 * Callers run point selects in a closed loop, in interleaved rounds (`measureRounds`). Figures: p50 / p99 read
 * latency (median over rounds), reads per second, and the share of reads each node served (`cross-zone share`:
 * the far replica's), counted by the router itself (`status().served`).
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/distance.ts`
 */
import { type Cluster, type DelayProxy, startDelayProxy } from '@pgroute/cluster'
import { createRouter, type Router, type RouterOptions } from '@pgroute/core'
import { envNumber, roundMs, rounds, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import { closedLoop, type LoopFigures, measureRounds } from './interleaved-rounds.js'

export const name = 'distance'

const ROWS = 1000
const READ = 'SELECT v FROM items WHERE id = $1'

/** One set-up: how many callers, how many connections each replica's pool may open. */
interface SetUp {
  readonly name: string
  readonly callers: number
  readonly poolMax: number
}

const SET_UPS: readonly SetUp[] = [
  { name: 'headroom', callers: 8, poolMax: 10 },
  { name: 'saturated', callers: 16, poolMax: 4 },
]

const NEAR_ONLY = 'near only'
const CLIENTS = [NEAR_ONLY, 'random', 'nearest (zones)', 'nearest (rtt)'] as const
type Client = (typeof CLIENTS)[number]

/** A router over the primary and the proxied replicas, balanced as `client` says. */
function routerFor(
  client: Client,
  cluster: Cluster,
  near: DelayProxy,
  far: DelayProxy,
  poolMax: number,
): Router {
  const zoned = client !== 'nearest (rtt)'
  const replicas: RouterOptions['replicas'] = [
    { name: 'near', connectionString: near.url!, zone: zoned ? 'zone-a' : undefined, max: poolMax },
    ...(client === NEAR_ONLY
      ? []
      : [{ name: 'far', connectionString: far.url!, zone: zoned ? 'zone-b' : undefined, max: poolMax }]),
  ]
  return createRouter({
    primary: cluster.primary.url,
    replicas,
    balance: client === 'random' ? 'random' : client === NEAR_ONLY ? 'round-robin' : 'nearest',
    zone: zoned ? 'zone-a' : undefined,
    // Probing every 200 ms: the round-trip estimates settle within the warm-up.
    healthCheck: { intervalMs: 200, timeoutMs: 150 },
  })
}

/** Statements each node has served so far, by name. */
function servedBy(router: Router): Map<string, number> {
  return new Map(router.status().map((row) => [row.name, row.served]))
}

/** Waits until the `nearest (rtt)` router ranks the far replica far (its round trips measured). */
async function settled(router: Router): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const far = router.status().find((row) => row.name === 'far')
    if (far?.distance === 'far') return
    if (Date.now() > deadline) {
      throw new Error(
        `the far replica was not measured far in 15 s (status: ${JSON.stringify(router.status())})`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function measureSetUp(
  cluster: Cluster,
  near: DelayProxy,
  far: DelayProxy,
  setUp: SetUp,
  nearMs: number,
  farMs: number,
): Promise<BenchRow[]> {
  const routers = new Map(
    CLIENTS.map((client) => [client, routerFor(client, cluster, near, far, setUp.poolMax)]),
  )
  try {
    await Promise.all([...routers.values()].map((router) => router.ready()))
    await settled(routers.get('nearest (rtt)')!)
    const served = new Map(CLIENTS.map((client) => [client, new Map<string, number>()]))
    const measure = async (client: string): Promise<LoopFigures> => {
      const router = routers.get(client as Client)!
      const before = servedBy(router)
      const figures = await closedLoop(setUp.callers, roundMs(), (call) =>
        router.query(READ, [(call % ROWS) + 1]),
      )
      const totals = served.get(client as Client)!
      for (const [node, count] of servedBy(router)) {
        totals.set(node, (totals.get(node) ?? 0) + count - (before.get(node) ?? 0))
      }
      return figures
    }
    // A short warm-up of each (connections opened, code compiled), not counted.
    for (const client of CLIENTS) {
      const router = routers.get(client)!
      await closedLoop(setUp.callers, 300, (call) => router.query(READ, [(call % ROWS) + 1]))
    }
    const result = await measureRounds({ clients: CLIENTS, baseline: NEAR_ONLY, rounds: rounds() }, measure)
    return CLIENTS.map((client) => {
      const counts = served.get(client)!
      const total = [...counts.values()].reduce((a, b) => a + b, 0)
      const share = (node: string) => (total === 0 ? 0 : (counts.get(node) ?? 0) / total)
      const p50 = result.p50Ms.get(client)!
      return {
        'set-up': `${setUp.name} (${setUp.callers} callers, pool ${setUp.poolMax})`,
        client,
        'p50 ms': round(p50, 3),
        'p99 ms': round(result.p99Ms.get(client)!, 3),
        'p50 vs near only': round(p50 / result.p50Ms.get(NEAR_ONLY)!, 2),
        'reads/s': Math.round(result.opsPerSecond.get(client)!),
        'near share': round(share('near'), 3),
        'cross-zone share': round(share('far'), 3),
        'primary share': round(share(primaryName(routers.get(client)!)), 3),
        'added RTT near/far ms': `${nearMs}/${farMs}`,
      }
    })
  } finally {
    await Promise.all([...routers.values()].map((router) => router.end()))
  }
}

/** The name the router gives its primary (the first status row). */
function primaryName(router: Router): string {
  return router.status()[0]!.name
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Measures both set-ups on a fresh cluster with one near and one far replica. */
export async function run(): Promise<BenchRow[]> {
  const nearMs = envNumberOrZero('BENCH_DISTANCE_NEAR', 0)
  const farMs = envNumber('BENCH_DISTANCE_FAR', 2)
  return withCluster({ replicas: 2 }, async (cluster) => {
    await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)')
    await cluster.primary.query(`INSERT INTO items SELECT i, i FROM generate_series(1, ${ROWS}) AS i`)
    await cluster.waitForReplication()
    const near = await startDelayProxy(cluster.replicas[0]!, { delay: nearMs })
    const far = await startDelayProxy(cluster.replicas[1]!, { delay: farMs })
    try {
      const rows: BenchRow[] = []
      for (const setUp of SET_UPS)
        rows.push(...(await measureSetUp(cluster, near, far, setUp, nearMs, farMs)))
      return rows
    } finally {
      await Promise.all([near.close(), far.close()])
    }
  })
}

/** Like {@link envNumber}, but 0 is allowed (a near replica with nothing added). */
function envNumberOrZero(variable: string, fallback: number): number {
  return process.env[variable] === '0' ? 0 : envNumber(variable, fallback)
}

if (isMain(import.meta.url)) console.table(await run())
