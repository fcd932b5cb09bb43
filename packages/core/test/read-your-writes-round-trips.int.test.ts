/**
 * Round trips a session's read pays for read-your-writes, counted with delay proxies: the primary and the replica
 * are each reached through a proxy of `@pgroute/cluster` adding `DELAY_MS` to every round trip, far more than
 * anything else in a round trip on loopback (a busy machine adds tens of milliseconds to some), so a read's time
 * over a plain read's, divided by `DELAY_MS`, is the number of round trips it added. Right after a write: none (the
 * position after the write is read from the primary while the replica answers its replay position and the read,
 * sent together on one connection); once both are known: none either.
 */
import { type Cluster, type DelayProxy, startDelayProxy } from '@pgroute/cluster'
import { startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'

/** Round trip each proxy adds, in ms. */
const DELAY_MS = 100
/** Write-then-read cycles measured. */
const CYCLES = 12

let cluster: Cluster
let proxies: DelayProxy[] = []
let router: Router

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 })
  await cluster.primary.query(
    'CREATE TABLE rtt_counters (id int PRIMARY KEY, v int NOT NULL); INSERT INTO rtt_counters VALUES (1, 0)',
  )
  await cluster.waitForReplication()
  proxies = await Promise.all(
    [cluster.primary, cluster.replicas[0]!].map((node) => startDelayProxy(node, { delay: DELAY_MS })),
  )
  router = createRouter({
    primary: proxies[0]!.url!,
    replicas: [{ name: 'replica-1', connectionString: proxies[1]!.url! }],
    // Probes share the router's own connection with its WAL-position lookups: rare, so that a lookup queued
    // behind a probe does not count as a round trip of the rule.
    healthCheck: { intervalMs: 10_000, timeoutMs: 5_000 },
  })
  await router.ready()
})

afterAll(async () => {
  await router?.end()
  await Promise.all(proxies.map((proxy) => proxy.close()))
  await cluster?.stop()
})

const WRITE = 'UPDATE rtt_counters SET v = v + 1 WHERE id = 1 RETURNING v'
const READ = 'SELECT v, inet_server_port() AS port FROM rtt_counters WHERE id = 1'

interface Sample {
  readonly ms: number
  readonly v: number
  readonly port: number
}

async function timedRead(): Promise<Sample> {
  const start = performance.now()
  const { rows } = await router.query<{ v: number; port: number }>(READ)
  return { ms: performance.now() - start, v: rows[0]!.v, port: rows[0]!.port }
}

/** The `q` quantile (0..1) of `values`, by nearest rank. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(q * (sorted.length - 1))]!
}

describe('read-your-writes round trips (every node behind a delay proxy)', () => {
  it('a session read right after its write adds no round trip, nor does a later one; none is stale', async () => {
    const plain: number[] = []
    const afterWrite: number[] = []
    const known: number[] = []
    let stale = 0
    let onReplica = 0
    // One cycle first, not counted: connections opened, code compiled.
    for (let cycle = -1; cycle < CYCLES; cycle++) {
      const reference = await timedRead()
      await router.session(async () => {
        const written = (await router.query<{ v: number }>(WRITE)).rows[0]!.v
        const first = await timedRead()
        // Nothing written since: the position is settled and the replica was seen to have replayed it.
        const second = await timedRead()
        if (cycle < 0) return
        plain.push(reference.ms)
        afterWrite.push(first.ms)
        known.push(second.ms)
        for (const sample of [first, second]) {
          if (sample.v < written) stale++
          if (sample.port === cluster.replicas[0]!.port) onReplica++
        }
      })
    }
    // Round trips a read added, from the `q` quantile of its times and of the plain read's.
    const added = (samples: number[], q: number) => (quantile(samples, q) - quantile(plain, q)) / DELAY_MS
    console.info(
      `plain read p50 ${quantile(plain, 0.5).toFixed(1)} ms; session read after write p50 ` +
        `${quantile(afterWrite, 0.5).toFixed(1)} ms (${added(afterWrite, 0.5).toFixed(2)} round trips added, ` +
        `${added(afterWrite, 0.25).toFixed(2)} at the lower quartile); then p50 ${quantile(known, 0.5).toFixed(1)} ms ` +
        `(${added(known, 0.5).toFixed(2)}, ${added(known, 0.25).toFixed(2)}); ${stale} stale, ` +
        `${onReplica}/${2 * CYCLES} on the replica ` +
        `(each, ms: plain ${plain.map(Math.round)}; after write ${afterWrite.map(Math.round)}; then ${known.map(Math.round)})`,
    )
    expect(stale).toBe(0)
    // The reads went to the replica: had they gone to the primary, they would cost no replica check at all.
    expect(onReplica).toBeGreaterThanOrEqual(CYCLES)
    // Round trips are counted at the lower quartile: a busy machine only adds time (a cycle on it may take a
    // round trip longer), never takes any away, so a rule that reads the replica's replay position and then sends
    // the read (one round trip after the other) adds one round trip to every cycle, and fails here however quiet
    // the machine is. The read goes right behind the replica's replay check on the same connection, while the
    // position after the write is read from the primary: none added.
    expect(added(afterWrite, 0.25)).toBeLessThan(0.5)
    expect(added(known, 0.25)).toBeLessThan(0.5)
  })
})
