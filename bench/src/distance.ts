/**
 * Reads with one replica near and one far, under the chaos load: `balance: 'random'` against `balance: 'nearest'`,
 * with a router given the near replica alone (and, saturated, the far one alone) as the reference, side by side in
 * one run. It prints the figures issue #23's done-when names, each beside its goal.
 *
 * One primary and two replicas on loopback. Each replica is reached through a delay proxy of `@pgroute/cluster`
 * (so both pay the same proxy hop): the near one adds `BENCH_DISTANCE_NEAR` (default 0 ms, loopback's own round
 * trip), the far one `BENCH_DISTANCE_FAR` (default 3 ms) to every round trip. The router runs in zone `zone-a`, the
 * near replica too, the far one in `zone-b`; `nearest (rtt)` is given no zones and goes by measured round trips.
 *
 * Each client's turn runs two loads on its router at once: the chaos load (`chaos/load-driver.ts`, as `pnpm chaos`
 * runs it: 8 callers pausing 20 ms between calls, cycling through plain reads, writes, read-your-writes sessions
 * that read their write back, sessions continuing from a token, transactions), and the measured reads, point
 * selects from `callers` callers in a closed loop. Turns are interleaved in rounds (`measureRounds`).
 *
 * Two set-ups:
 * - `headroom`: 8 callers, 16 connections per replica: with the chaos load's 8 callers, every caller can hold a
 *   connection of the near replica at once, so it always has a free one. Goal: `nearest` read p50 ≤ 1.2 × near
 *   only's (`p50 vs near only`, the median over rounds of the ratio in each round).
 * - `saturated`: 16 callers, 4 connections per replica: the near replica's pool is always full. Its reads hold their
 *   connection `SERVER_MS` on the server (`pg_sleep`): each replica's capacity is then its pool over its round
 *   trip plus that time, as for replicas on machines of their own. With point selects answered from memory, every
 *   client here is bound by this machine's CPU (client, proxies and both servers share its 2 cores), a replica's
 *   "capacity" measured alone is the machine's, and a router that never spilled over would score about as well as
 *   one that does. `combined capacity` is the reads/s of `near only` plus that of `far only` in the same round
 *   (each alone, with the same callers and pool); `share of capacity` is a client's reads/s over it, the median
 *   over rounds. Goal: `nearest` ≥ 0.9.
 *
 * In every turn the chaos load's sessions read their own writes back: `stale` counts those that did not see them
 * (goal 0, over every client and set-up), `session reads` those checked. `chaos read p50 ms` is the chaos load's
 * reads (plain, in sessions, read-only transactions). Shares are of the statements each node served (both loads),
 * counted by the router (`status().served`).
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/distance.ts`
 */
import { type Cluster, type DelayProxy, startDelayProxy } from '@pgroute/cluster'
import { createRouter, type Router, type RouterOptions } from '@pgroute/core'
import { envNumber, roundMs, rounds, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import { ChaosMetrics } from './chaos/chaos-metrics.js'
import { LoadDriver, setupSql } from './chaos/load-driver.js'
import { closedLoop, type LoopFigures, measureRounds, median } from './interleaved-rounds.js'

export const name = 'distance'

const ROWS = 1000
/** Server time of a saturated set-up's read, in ms (see the file's comment). */
const SERVER_MS = 2
const POINT_READ = 'SELECT v FROM items WHERE id = $1'
const SERVER_READ = `SELECT v FROM items, pg_sleep(${SERVER_MS / 1000}) WHERE id = $1`
/** The chaos load as `pnpm chaos` runs it (`chaos/scenario-runner.ts`). */
const CHAOS_LOAD = { workers: 8, paceMs: 20 }

const NEAR_ONLY = 'near only'
const FAR_ONLY = 'far only'
type Client = typeof NEAR_ONLY | typeof FAR_ONLY | 'random' | 'nearest (zones)' | 'nearest (rtt)'
const NEAREST: readonly Client[] = ['nearest (zones)', 'nearest (rtt)']

/** One set-up: how many callers, how many connections each replica's pool may open, what they read. */
interface SetUp {
  readonly name: 'headroom' | 'saturated'
  readonly callers: number
  readonly poolMax: number
  readonly read: string
  readonly clients: readonly Client[]
}

const SET_UPS: readonly SetUp[] = [
  {
    name: 'headroom',
    callers: 8,
    poolMax: 16,
    read: POINT_READ,
    clients: [NEAR_ONLY, 'random', ...NEAREST],
  },
  {
    name: 'saturated',
    callers: 16,
    poolMax: 4,
    read: SERVER_READ,
    clients: [NEAR_ONLY, FAR_ONLY, 'random', ...NEAREST],
  },
]

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
    ...(client === FAR_ONLY
      ? []
      : [{ name: 'near', connectionString: near.url!, zone: zoned ? 'zone-a' : undefined, max: poolMax }]),
    ...(client === NEAR_ONLY
      ? []
      : [{ name: 'far', connectionString: far.url!, zone: zoned ? 'zone-b' : undefined, max: poolMax }]),
  ]
  return createRouter({
    primary: cluster.primary.url,
    replicas,
    balance: client === 'random' ? 'random' : NEAREST.includes(client) ? 'nearest' : 'round-robin',
    zone: zoned ? 'zone-a' : undefined,
    // Probing every 500 ms: the round-trip estimates settle within seconds, and a probe may take 450 ms on a busy
    // machine (a probe timing out marks its node down: the chaos load's writes would fail for nothing).
    healthCheck: { intervalMs: 500, timeoutMs: 450 },
  })
}

/** Statements each node has served so far, by name. */
function servedBy(router: Router): Map<string, number> {
  return new Map(router.status().map((row) => [row.name, row.served]))
}

/**
 * Resolves once `router` sees every node up. A first probe that times out on a busy machine (its login included)
 * rejects `ready()`, but the router goes on probing and comes up by itself.
 */
async function up(router: Router): Promise<void> {
  try {
    await router.ready()
  } catch (error) {
    const deadline = Date.now() + 30_000
    while (!router.status().every((node) => node.healthy)) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

type Choices = { nearest: number; spillOver: number; far: number }

/** Reads `balance: 'nearest'` sent to the far replica so far, by why (`undefined` for other balances). */
function farChoices(router: Router): Choices | undefined {
  const choices = router.status().find((row) => row.name === 'far')?.choices
  return choices ? { ...choices } : undefined
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

/** What one client did over every round of a set-up. */
interface ClientTally {
  readonly router: Router
  readonly chaos: ChaosMetrics
  readonly driver: LoadDriver
  /** Statements served per node, over the measured turns. */
  readonly served: Map<string, number>
  /** Reads sent to the far replica by why, over the measured turns (`balance: 'nearest'` only). */
  farChoices: Choices | undefined
  /** The measured reads' figures of each round, in round order. */
  readonly perRound: LoopFigures[]
  /** Chaos calls that never settled within the grace after a turn. */
  unsettled: number
}

/** One turn of `client`: the chaos load and the measured reads, together, for `ms`. */
async function turn(tally: ClientTally, setUp: SetUp, ms: number): Promise<LoopFigures> {
  const { router } = tally
  const before = servedBy(router)
  const choicesBefore = farChoices(router)
  tally.driver.start()
  const figures = await closedLoop(setUp.callers, ms, (call) => router.query(setUp.read, [(call % ROWS) + 1]))
  tally.unsettled += await tally.driver.stop(10_000)
  for (const [node, count] of servedBy(router)) {
    tally.served.set(node, (tally.served.get(node) ?? 0) + count - (before.get(node) ?? 0))
  }
  const choicesAfter = farChoices(router)
  if (choicesBefore && choicesAfter) {
    const sum = tally.farChoices ?? { nearest: 0, spillOver: 0, far: 0 }
    sum.nearest += choicesAfter.nearest - choicesBefore.nearest
    sum.spillOver += choicesAfter.spillOver - choicesBefore.spillOver
    sum.far += choicesAfter.far - choicesBefore.far
    tally.farChoices = sum
  }
  return figures
}

/** The median over rounds of `of(client's round) / of(reference round)`. */
function perRoundRatio(
  tallies: ReadonlyMap<Client, ClientTally>,
  client: Client,
  of: (figures: LoopFigures) => number,
  reference: (round: number) => number,
): number {
  return median(tallies.get(client)!.perRound.map((figures, i) => of(figures) / reference(i)))
}

async function measureSetUp(
  cluster: Cluster,
  near: DelayProxy,
  far: DelayProxy,
  setUp: SetUp,
  distances: string,
): Promise<BenchRow[]> {
  const tallies = new Map<Client, ClientTally>(
    setUp.clients.map((client) => {
      const router = routerFor(client, cluster, near, far, setUp.poolMax)
      const chaos = new ChaosMetrics()
      const driver = new LoadDriver(router, chaos, CHAOS_LOAD)
      return [
        client,
        { router, chaos, driver, served: new Map(), farChoices: undefined, perRound: [], unsettled: 0 },
      ]
    }),
  )
  try {
    for (const tally of tallies.values()) await up(tally.router)
    await settled(tallies.get('nearest (rtt)')!.router)
    // A short warm-up of each (connections opened, code compiled), not counted.
    for (const tally of tallies.values()) {
      const warm = new ChaosMetrics()
      const driver = new LoadDriver(tally.router, warm, CHAOS_LOAD)
      driver.start()
      await closedLoop(setUp.callers, 300, (call) => tally.router.query(setUp.read, [(call % ROWS) + 1]))
      await driver.stop(10_000)
    }
    const ms = roundMs()
    const result = await measureRounds(
      { clients: setUp.clients, baseline: NEAR_ONLY, rounds: rounds() },
      async (client) => {
        const tally = tallies.get(client as Client)!
        const figures = await turn(tally, setUp, ms)
        tally.perRound.push(figures)
        return figures
      },
    )
    const nearOnly = tallies.get(NEAR_ONLY)!
    const farOnly = tallies.get(FAR_ONLY)
    // Combined capacity in each round: the near replica alone plus the far one alone, measured in that round.
    const capacity = (round: number) =>
      nearOnly.perRound[round]!.opsPerSecond + (farOnly?.perRound[round]?.opsPerSecond ?? Number.NaN)
    const chaosP50 = (client: Client) => tallies.get(client)!.chaos.latencyOf('read', 0.5)
    return setUp.clients.map((client) => {
      const tally = tallies.get(client)!
      const total = [...tally.served.values()].reduce((a, b) => a + b, 0)
      const share = (node: string) => (total === 0 ? 0 : (tally.served.get(node) ?? 0) / total)
      const p50Ratio = perRoundRatio(
        tallies,
        client,
        (figures) => figures.p50Ms,
        (i) => nearOnly.perRound[i]!.p50Ms,
      )
      return {
        'set-up': `${setUp.name} (${setUp.callers} callers, pool ${setUp.poolMax}${
          setUp.read === SERVER_READ ? `, reads ${SERVER_MS} ms on the server` : ''
        })`,
        client,
        'p50 ms': round(result.p50Ms.get(client)!, 3),
        'p99 ms': round(result.p99Ms.get(client)!, 3),
        'p50 vs near only': round(p50Ratio, 2),
        'reads/s': Math.round(result.opsPerSecond.get(client)!),
        'combined capacity reads/s': farOnly
          ? Math.round(median(nearOnly.perRound.map((_, i) => capacity(i))))
          : '-',
        'share of capacity': farOnly
          ? round(
              perRoundRatio(tallies, client, (figures) => figures.opsPerSecond, capacity),
              3,
            )
          : '-',
        'chaos read p50 ms': round(chaosP50(client), 3),
        'chaos p50 vs near only': round(chaosP50(client) / chaosP50(NEAR_ONLY), 2),
        'session reads': tally.chaos.sessionReads,
        stale: tally.chaos.staleReads,
        'failed calls': tally.chaos.failures().length + tally.unsettled,
        'near share': round(share('near'), 3),
        'cross-zone share': round(share('far'), 3),
        // Why `nearest` sent reads to the far replica: ranked near, spilled over (near pool full), or no near one
        // could take them (behind the lag bounds, or not yet replayed a session's write).
        'far reads nearest/spill/far': tally.farChoices
          ? `${tally.farChoices.nearest}/${tally.farChoices.spillOver}/${tally.farChoices.far}`
          : '-',
        'primary share': round(share(primaryName(tally.router)), 3),
        'added RTT near/far ms': distances,
      }
    })
  } finally {
    await Promise.all([...tallies.values()].map((tally) => tally.router.end()))
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

/** The done-when figures of issue #23, each beside its goal, from the rows of both set-ups. */
export function goalLines(rows: readonly BenchRow[]): string[] {
  const of = (setUp: string, client: string) =>
    rows.find((row) => String(row['set-up']).startsWith(setUp) && row.client === client)
  const list = (setUp: string, key: string) =>
    NEAREST.map((client) => `${client} ${of(setUp, client)?.[key]}`).join(', ')
  const stale = rows.reduce((sum, row) => sum + Number(row.stale), 0)
  const checked = rows.reduce((sum, row) => sum + Number(row['session reads']), 0)
  const failed = rows.reduce((sum, row) => sum + Number(row['failed calls']), 0)
  const distances = rows[0]?.['added RTT near/far ms']
  return [
    `distance (added RTT near/far ${distances} ms), under the chaos load:`,
    `  headroom: read p50 vs near only: ${list('headroom', 'p50 vs near only')} (goal ≤ 1.2; random ` +
      `${of('headroom', 'random')?.['p50 vs near only']}); the chaos load's reads: ` +
      `${list('headroom', 'chaos p50 vs near only')}`,
    `  saturated: combined capacity (near only + far only, each alone, same round) ` +
      `${of('saturated', NEAR_ONLY)?.['combined capacity reads/s']} reads/s; share of it: ` +
      `${list('saturated', 'share of capacity')} (goal ≥ 0.9; near only ${of('saturated', NEAR_ONLY)?.['share of capacity']})`,
    `  stale session reads: ${stale} of ${checked} (goal 0); failed calls: ${failed}`,
  ]
}

/** Measures both set-ups on a fresh cluster with one near and one far replica. */
export async function run(): Promise<BenchRow[]> {
  const nearMs = envNumberOrZero('BENCH_DISTANCE_NEAR', 0)
  const farMs = envNumber('BENCH_DISTANCE_FAR', 3)
  return withCluster({ replicas: 2 }, async (cluster) => {
    await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)')
    await cluster.primary.query(`INSERT INTO items SELECT i, i FROM generate_series(1, ${ROWS}) AS i`)
    await cluster.primary.query(setupSql)
    await cluster.waitForReplication()
    const near = await startDelayProxy(cluster.replicas[0]!, { delay: nearMs })
    const far = await startDelayProxy(cluster.replicas[1]!, { delay: farMs })
    try {
      const rows: BenchRow[] = []
      for (const setUp of SET_UPS)
        rows.push(...(await measureSetUp(cluster, near, far, setUp, `${nearMs}/${farMs}`)))
      console.log(goalLines(rows).join('\n'))
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
