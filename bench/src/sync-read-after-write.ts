/**
 * A session's read right after its own write, on a cluster with one synchronous `remote_apply` standby
 * (`FIRST 1 (replica-1)`) and one asynchronous replica: with `readYourWrites.synchronousApply` (the default: the
 * read may go to the synchronous standby without waiting for its replay position) and without it (the LSN rule:
 * the read waits for a replica that has replayed the write, or goes to the primary), side by side, in interleaved
 * rounds. 8 callers each loop: increment their own counter on the primary, then read it back in the same session.
 * Figures: read latency p50 / p99 (the read alone, from after the write), the share of reads on each node, and
 * stale reads (a read that returns less than was just written).
 *
 * `BENCH_ROUNDS` (3) rounds of `BENCH_ROUND_MS` (2000) per contender.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/sync-read-after-write.ts`
 */
import type { Cluster } from '@pgroute/cluster'
import { createRouter, type Router } from '@pgroute/core'
import { envNumber, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'

export const name = 'sync-read-after-write'

const WORKERS = 8

interface Tally {
  readonly latencies: number[]
  readonly ports: Map<number, number>
  stale: number
}

async function rounds(router: Router, ms: number, tally: Tally): Promise<void> {
  const until = performance.now() + ms
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, worker) => {
      const id = worker + 1
      while (performance.now() < until) {
        await router.session(async () => {
          const { rows } = await router.query<{ v: number }>(
            'UPDATE sync_counters SET v = v + 1 WHERE id = $1 RETURNING v',
            [id],
          )
          const written = rows[0]!.v
          const start = performance.now()
          const read = await router.query<{ v: number; port: number }>(
            'SELECT v, inet_server_port() AS port FROM sync_counters WHERE id = $1',
            [id],
          )
          tally.latencies.push(performance.now() - start)
          const row = read.rows[0]!
          if (row.v < written) tally.stale++
          tally.ports.set(row.port, (tally.ports.get(row.port) ?? 0) + 1)
        })
      }
    }),
  )
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** Both contenders, interleaved round by round on one cluster. */
export async function run(): Promise<BenchRow[]> {
  const roundCount = Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 3)))
  const roundMs = envNumber('BENCH_ROUND_MS', 2000)
  return withCluster(
    {
      replicaOptions: [{ synchronous: true }, {}],
      synchronousMethod: 'first',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
    },
    async (cluster: Cluster) => {
      await cluster.primary.query(
        `CREATE TABLE sync_counters (id integer PRIMARY KEY, v integer NOT NULL);
         INSERT INTO sync_counters SELECT g, 0 FROM generate_series(1, ${WORKERS}) g`,
      )
      await cluster.waitForReplication({ replicas: cluster.replicas })
      // The rule counts a configuration once every process of the server has taken it (a second).
      await new Promise((resolve) => setTimeout(resolve, 1200))
      const contenders = [true, false].map((synchronousApply) => ({
        label: synchronousApply ? 'synchronousApply (default)' : 'LSN wait (synchronousApply: false)',
        router: createRouter({
          primary: cluster.primary.url,
          replicas: cluster.replicas.map((replica) => replica.url),
          readYourWrites: { synchronousApply },
        }),
        tally: { latencies: [], ports: new Map(), stale: 0 } as Tally,
      }))
      try {
        await Promise.all(contenders.map((contender) => contender.router.ready()))
        for (let round = 0; round < roundCount; round++) {
          for (const contender of contenders) await rounds(contender.router, roundMs, contender.tally)
        }
      } finally {
        await Promise.all(contenders.map((contender) => contender.router.end()))
      }
      const names = new Map(cluster.nodes.map((node) => [node.port, node.name]))
      return contenders.map(({ label, tally }) => {
        const sorted = [...tally.latencies].sort((a, b) => a - b)
        const reads = sorted.length
        const share = (name: string) => {
          const port = [...names].find(([, each]) => each === name)?.[0]
          return reads === 0 ? 0 : Number((((tally.ports.get(port ?? -1) ?? 0) / reads) * 100).toFixed(1))
        }
        return {
          bench: name,
          contender: label,
          reads,
          'read p50 ms': Number(quantile(sorted, 0.5).toFixed(3)),
          'read p99 ms': Number(quantile(sorted, 0.99).toFixed(3)),
          'on primary %': share('primary'),
          'on sync standby %': share('replica-1'),
          'on async replica %': share('replica-2'),
          'stale reads': tally.stale,
        }
      })
    },
  )
}

if (isMain(import.meta.url)) console.table(await run())
