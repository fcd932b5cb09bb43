/**
 * What read-your-writes adds to a read: a session's read right after its own write, against the same read made
 * outside a session, side by side in one run, on loopback and with every node `BENCH_SESSION_DELAY` ms away
 * (default 2: a delay proxy of `@pgroute/cluster` in front of the primary and of the replica, as for a router in
 * another zone than its nodes).
 *
 * One primary and one replica. `BENCH_SESSION_CALLERS` (default 1) callers each loop over their own counter row:
 * - `plain read after write`: increment the counter on the primary, then read it back outside a session (the read
 *   goes to the replica at once; it may be stale);
 * - `session read after write`: the same inside `router.session()` (the read must see the write);
 * - `session read, position known`: inside the same session, a second read after the first (nothing written
 *   since: the replica is known to have replayed the write).
 * Only the read is timed. Interleaved rounds (`BENCH_ROUNDS`, `BENCH_ROUND_MS`), the figures over all of them:
 * read p50 / p99, `p50 / plain` (the session read's p50 over the plain read's), `added round trips` (the p50's
 * difference over the plain read's p50: a plain read is one round trip to the replica), the share of reads the
 * replica served, and stale reads (a read that returned less than the caller had just written).
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/session-read.ts`
 */
import { type Cluster, type DelayProxy, startDelayProxy } from '@pgroute/cluster'
import { createRouter, type Router } from '@pgroute/core'
import { envNumber, roundMs, rounds, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'
import { median, quantile } from './interleaved-rounds.js'

export const name = 'session-read'

const WRITE = 'UPDATE session_counters SET v = v + 1 WHERE id = $1 RETURNING v'
const READ = 'SELECT v, inet_server_port() AS port FROM session_counters WHERE id = $1'

const CONTENDERS = [
  'plain read after write',
  'session read after write',
  'session read, position known',
] as const
type Contender = (typeof CONTENDERS)[number]

interface Tally {
  readonly latencies: number[]
  reads: number
  onReplica: number
  stale: number
}

/** A read of the counter `id` after `written` was written to it, timed and checked into `tally`. */
async function timedRead(
  router: Router,
  id: number,
  written: number,
  replicaPort: number,
  tally: Tally,
): Promise<void> {
  const start = performance.now()
  const { rows } = await router.query<{ v: number; port: number }>(READ, [id])
  tally.latencies.push(performance.now() - start)
  const row = rows[0]!
  tally.reads++
  if (row.v < written) tally.stale++
  if (row.port === replicaPort) tally.onReplica++
}

/** One contender's turn: each caller loops for `ms`. */
async function turn(
  contender: Contender,
  router: Router,
  callers: number,
  ms: number,
  replicaPort: number,
  tally: Tally,
): Promise<void> {
  const until = performance.now() + ms
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      const id = caller + 1
      while (performance.now() < until) {
        if (contender === 'plain read after write') {
          const { rows } = await router.query<{ v: number }>(WRITE, [id])
          await timedRead(router, id, rows[0]!.v, replicaPort, tally)
          continue
        }
        await router.session(async () => {
          const { rows } = await router.query<{ v: number }>(WRITE, [id])
          const written = rows[0]!.v
          const first = contender === 'session read after write' ? tally : undefined
          if (first) await timedRead(router, id, written, replicaPort, first)
          else {
            await router.query(READ, [id])
            await timedRead(router, id, written, replicaPort, tally)
          }
        })
      }
    }),
  )
}

/** Every contender on `router`, in interleaved rounds, and their rows. */
async function measure(
  setUp: string,
  router: Router,
  callers: number,
  replicaPort: number,
): Promise<BenchRow[]> {
  const tallies = new Map<Contender, Tally>(
    CONTENDERS.map((contender) => [contender, { latencies: [], reads: 0, onReplica: 0, stale: 0 }]),
  )
  await router.ready()
  // A short warm-up of each (connections opened, code compiled), not counted.
  for (const contender of CONTENDERS) {
    await turn(contender, router, callers, 300, replicaPort, {
      latencies: [],
      reads: 0,
      onReplica: 0,
      stale: 0,
    })
  }
  for (let round = 0; round < rounds(); round++) {
    for (const contender of CONTENDERS)
      await turn(contender, router, callers, roundMs(), replicaPort, tallies.get(contender)!)
  }
  const p50 = (contender: Contender) => median(tallies.get(contender)!.latencies)
  const plain = p50('plain read after write')
  return CONTENDERS.map((contender) => {
    const tally = tallies.get(contender)!
    const sorted = [...tally.latencies].sort((a, b) => a - b)
    return {
      'set-up': setUp,
      contender,
      reads: tally.reads,
      'read p50 ms': round(p50(contender), 3),
      'read p99 ms': round(quantile(sorted, 0.99), 3),
      'p50 / plain': round(p50(contender) / plain, 2),
      'added round trips': round((p50(contender) - plain) / plain, 2),
      'on replica %': round((100 * tally.onReplica) / tally.reads, 1),
      'stale reads': tally.stale,
    }
  })
}

function routerOver(primary: string, replica: string): Router {
  return createRouter({ primary, replicas: [replica], pool: { max: 10 } })
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Both set-ups on one cluster: nodes reached directly, then through delay proxies. */
export async function run(): Promise<BenchRow[]> {
  const delayMs = envNumber('BENCH_SESSION_DELAY', 2)
  const callers = Math.round(envNumber('BENCH_SESSION_CALLERS', 1))
  return withCluster({ replicas: 1 }, async (cluster: Cluster) => {
    await cluster.primary.query(
      `CREATE TABLE session_counters (id int PRIMARY KEY, v int NOT NULL);
       INSERT INTO session_counters SELECT g, 0 FROM generate_series(1, ${callers}) g`,
    )
    await cluster.waitForReplication()
    const replica = cluster.replicas[0]!
    const rows: BenchRow[] = []
    const direct = routerOver(cluster.primary.url, replica.url)
    try {
      rows.push(...(await measure('loopback', direct, callers, replica.port)))
    } finally {
      await direct.end()
    }
    const proxies: DelayProxy[] = await Promise.all(
      [cluster.primary, replica].map((node) => startDelayProxy(node, { delay: delayMs })),
    )
    const far = routerOver(proxies[0]!.url!, proxies[1]!.url!)
    try {
      rows.push(...(await measure(`every node +${delayMs} ms`, far, callers, replica.port)))
    } finally {
      await far.end()
      await Promise.all(proxies.map((proxy) => proxy.close()))
    }
    return rows
  })
}

if (isMain(import.meta.url)) console.table(await run())
