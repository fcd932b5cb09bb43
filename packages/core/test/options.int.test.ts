/**
 * Options and methods whose effect no other suite shows, each through `createRouter` on a real cluster: `nodes`,
 * `retry.retries` / `minTimeoutMs` / `maxTimeoutMs`, `readYourWrites.directCheck`, `pool.idleTimeoutMillis`,
 * `healthCheck.maxBackoffMs`, `classifierCacheSize`, `ready({ signal })` and `transaction({ deferrable })`.
 * Timings are compared between two routers under the same load (order), never against a fixed number of
 * milliseconds.
 */
import type { Cluster } from '@pgroute/cluster'
import { MIN_REPLICA_SHARE, replicaShare, requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router, type RouterOptions } from '../src/index.js'
import {
  FAST_HEALTH,
  failure,
  portOf,
  routerFor,
  WHO,
  waitFor,
  waitForState,
} from './helpers/cluster-helpers.js'

let cluster: Cluster
const routers: Router[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query('CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL DEFAULT 0)')
  await cluster.primary.query('INSERT INTO counters (id) SELECT g FROM generate_series(1, 10) g')
  await cluster.waitForReplication()
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await cluster?.stop()
})

function router(options: Partial<RouterOptions> = {}): Router {
  const created = routerFor(cluster, options)
  routers.push(created)
  return created
}

/** Every attempt of the router's reads, as it failed (`reroute` events), timed. */
function attempts(routed: Router): Array<{ node: string; at: number }> {
  const seen: Array<{ node: string; at: number }> = []
  // `reroute` ends every failed attempt, the last one too, and names its node even when the limit ran out while a
  // loaded machine opened the connection (such an attempt has no `route` event: nothing was sent).
  routed.on('reroute', (event) => seen.push({ node: event.from, at: performance.now() }))
  return seen
}

/** A read past `timeouts.readMs` on every node: each attempt fails (retryably) with PGROUTE_TIMEOUT. */
const SLOW_READ = "SELECT pg_sleep(30), 'retry-delays' AS tag"

describe('nodes', () => {
  it('takes every node in one list, in any order: the probes tell the primary; reads spread over the rest', async () => {
    const [r1, r2] = cluster.replicas
    const routed = createRouter({
      nodes: [
        { name: 'b', connectionString: r2!.url },
        { name: 'p', connectionString: cluster.primary.url },
        { name: 'a', connectionString: r1!.url },
      ],
      healthCheck: FAST_HEALTH,
    })
    routers.push(routed)
    await routed.ready()
    expect(routed.status().map((row) => [row.name, row.role])).toEqual([
      ['p', 'primary'],
      ['b', 'replica'],
      ['a', 'replica'],
    ])
    const written = await routed.query(
      'UPDATE counters SET v = v + 1 WHERE id = 1 RETURNING inet_server_port() AS port',
    )
    expect(portOf(written)).toBe(cluster.primary.port)
    const ports = new Set<number>()
    for (let i = 0; i < 20; i++) ports.add(portOf(await routed.query(WHO)))
    expect([...ports].sort()).toEqual([r1!.port, r2!.port].sort())
  })
})

describe('retry', () => {
  it('retries: 0 runs a failed read once; the default re-runs it on two more nodes', async () => {
    const once = router({ timeouts: { readMs: 200 }, retry: { retries: 0 }, routeEvents: true })
    const twice = router({ timeouts: { readMs: 200 }, routeEvents: true })
    const [onceTried, twiceTried] = [attempts(once), attempts(twice)]
    await Promise.all([once.ready(), twice.ready()])
    const errors = await Promise.all([failure(once.query(SLOW_READ)), failure(twice.query(SLOW_READ))])
    for (const error of errors) expect(error).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    expect(onceTried).toHaveLength(1)
    expect(new Set(twiceTried.map((attempt) => attempt.node)).size).toBe(3)
  })

  it('minTimeoutMs waits before the first re-run: a router without the wait has failed all its attempts first', async () => {
    const waiting = router({ timeouts: { readMs: 200 }, retry: { minTimeoutMs: 3000 }, routeEvents: true })
    const eager = router({ timeouts: { readMs: 200 }, routeEvents: true })
    const [waitingTried, eagerTried] = [attempts(waiting), attempts(eager)]
    await Promise.all([waiting.ready(), eager.ready()])
    let eagerSettledAt = 0
    const eagerRead = failure(eager.query(SLOW_READ)).then((error) => {
      eagerSettledAt = performance.now()
      return error
    })
    const waitingRead = failure(waiting.query(SLOW_READ))
    expect(await eagerRead).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    expect(await waitingRead).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    expect(eagerTried).toHaveLength(3)
    expect(waitingTried).toHaveLength(3)
    // Three attempts of the eager router, one after the other, before the waiting router's second one has failed.
    expect(waitingTried[1]!.at).toBeGreaterThan(eagerSettledAt)
    // And the wait is at least minTimeoutMs (between two failures: the wait, then the second attempt; a busy machine
    // only makes it longer).
    expect(waitingTried[1]!.at - waitingTried[0]!.at).toBeGreaterThanOrEqual(3000)
  })

  it("maxTimeoutMs caps the doubling wait: the capped router fails all its attempts before the other one's fifth has failed", async () => {
    const retry = { retries: 5, minTimeoutMs: 300 }
    // Waits of 300, 600, 1200, 2400, 4800 ms before the attempts after the first, against 300 ms each when capped.
    const doubling = router({
      timeouts: { readMs: 200 },
      retry: { ...retry, maxTimeoutMs: 60_000 },
      routeEvents: true,
    })
    const capped = router({
      timeouts: { readMs: 200 },
      retry: { ...retry, maxTimeoutMs: 300 },
      routeEvents: true,
    })
    const [doublingTried, cappedTried] = [attempts(doubling), attempts(capped)]
    await Promise.all([doubling.ready(), capped.ready()])
    let cappedSettledAt = 0
    const cappedRead = failure(capped.query(SLOW_READ)).then((error) => {
      cappedSettledAt = performance.now()
      return error
    })
    const doublingRead = failure(doubling.query(SLOW_READ))
    expect(await cappedRead).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    expect(await doublingRead).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    expect(cappedTried).toHaveLength(6)
    expect(doublingTried).toHaveLength(6)
    expect(doublingTried[4]!.at).toBeGreaterThan(cappedSettledAt)
  })
})

describe('readYourWrites.directCheck', () => {
  /** Session write-then-read pairs; the port of each read. */
  async function sessionReads(routed: Router, id: number): Promise<number[]> {
    const ports: number[] = []
    for (let i = 0; i < 60; i++) {
      await routed.session(async () => {
        await routed.query('UPDATE counters SET v = v + 1 WHERE id = $1', [id])
        ports.push(
          portOf(
            await routed.query('SELECT v, inet_server_port() AS port FROM counters WHERE id = $1', [id]),
          ),
        )
      })
    }
    return ports
  }

  it('asks a replica whether it replayed the write (true, default) instead of reading on the primary (false)', async () => {
    // Probes every 5 s: right after a write, the probe data never shows a replica that has replayed it.
    const healthCheck = { intervalMs: 5000, timeoutMs: FAST_HEALTH.timeoutMs }
    const asking = router({ healthCheck, readYourWrites: { directCheck: true } })
    const trusting = router({ healthCheck, readYourWrites: { directCheck: false } })
    await Promise.all([asking.ready(), trusting.ready()])
    const [asked, trusted] = await Promise.all([sessionReads(asking, 2), sessionReads(trusting, 3)])
    expect(replicaShare(asked, cluster)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
    // Only a probe that happened to land between a write and its read could send one to a replica.
    expect(replicaShare(trusted, cluster)).toBeLessThan(0.1)
  })
})

describe('pool.idleTimeoutMillis', () => {
  /** Client connections of the application `name` on every replica. */
  async function connections(name: string): Promise<number> {
    let total = 0
    for (const replica of cluster.replicas) {
      const { rows } = await replica.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
        [name],
      )
      total += rows[0]!.n
    }
    return total
  }

  it('closes idle connections after that long; a router with a longer one keeps them', async () => {
    const replicasAs = (name: string) =>
      cluster.replicas.map((replica) => ({
        name: replica.name,
        connectionString: replica.url,
        application_name: name,
      }))
    const brief = router({ replicas: replicasAs('idle-brief'), pool: { idleTimeoutMillis: 300 } })
    const lasting = router({ replicas: replicasAs('idle-lasting'), pool: { idleTimeoutMillis: 120_000 } })
    await Promise.all([brief.ready(), lasting.ready()])
    // Both open connections on the replicas (seen while their reads still run), then leave them idle.
    const reads = [brief, lasting].flatMap((routed) =>
      Array.from({ length: 4 }, () => routed.query('SELECT pg_sleep(1)')),
    )
    await waitFor(
      async () => (await connections('idle-brief')) > 0 && (await connections('idle-lasting')) > 0,
      10_000,
      'connections of both routers on the replicas',
    )
    await Promise.all(reads)
    await waitFor(async () => (await connections('idle-brief')) === 0, 20_000, 'idle connections to close')
    expect(await connections('idle-lasting')).toBeGreaterThan(0)
  })
})

describe('pool.connectionTimeoutMillis', () => {
  it('fails a statement that waited that long for a connection: the shorter limit gives up first', async () => {
    const patient = router({ pool: { max: 1, connectionTimeoutMillis: 3000 } })
    const impatient = router({ pool: { max: 1, connectionTimeoutMillis: 300 } })
    await Promise.all([patient.ready(), impatient.ready()])
    // Each router's only primary connection is held by a transaction: the next write must wait for it.
    const held = await Promise.all([patient.primary.connect(), impatient.primary.connect()])
    try {
      for (const client of held) await client.query('BEGIN')
      const settled: string[] = []
      const attempt = (name: string, routed: Router) =>
        failure(routed.query("SELECT nextval('no_such_sequence')")).then((error) => {
          settled.push(name)
          return error
        })
      // The patient router's statement starts waiting first, yet gives up last.
      const patientFailure = attempt('patient', patient)
      const impatientFailure = attempt('impatient', impatient)
      const errors = await Promise.all([patientFailure, impatientFailure])
      expect(settled).toEqual(['impatient', 'patient'])
      for (const error of errors) expect(String((error as Error).message)).toMatch(/timeout/i)
    } finally {
      for (const client of held) {
        await client.query('ROLLBACK')
        client.release()
      }
    }
  })
})

describe('healthCheck.maxBackoffMs', () => {
  it('caps the back-off between re-probes of a node that is down', async (context) => {
    requireControl(context, 'stops a replica')
    const victim = cluster.replicas[1]!
    // Rounds every 20 s: between them, a down node is probed again only by the back-off re-probes.
    const { timeoutMs } = FAST_HEALTH
    const often = router({ healthCheck: { intervalMs: 20_000, timeoutMs, maxBackoffMs: 100 } })
    const rarely = router({ healthCheck: { intervalMs: 20_000, timeoutMs, maxBackoffMs: 20_000 } })
    await Promise.all([often.ready(), rarely.ready()])
    await victim.stop({ mode: 'fast' })
    try {
      // Both routers learn it at once: a read there fails with a connection error and marks it down.
      const failuresOf = (routed: Router) => routed.status().find((row) => row.name === victim.name)!.errors
      await Promise.all(
        [often, rarely].map(async (routed) => {
          for (let i = 0; i < 4; i++) await routed.query(WHO)
          await waitForState(routed, victim.name, 'down')
        }),
      )
      // Back-offs of 100 ms against 100, 200, 400, 800, 1600 ms…: the capped router re-probes far more often.
      await waitFor(() => failuresOf(often) >= 20, 20_000, 'twenty failed re-probes of the capped router')
      expect(failuresOf(rarely)).toBeLessThan(10)
    } finally {
      await victim.start()
    }
    await waitForState(often, victim.name, 'up', 20_000)
  })
})

describe('classifierCacheSize', () => {
  it('keeps that many classifications (identical objects); 0 classifies every time', async () => {
    const caching = router({ classifierCacheSize: 2 })
    const uncached = router({ classifierCacheSize: 0 })
    const [a, b, c] = ['SELECT 1', 'SELECT 2', 'SELECT 3']
    expect(caching.classify(a)).toBe(caching.classify(a))
    caching.classify(b)
    caching.classify(c) // evicts a, the least recently used of two
    const first = caching.classify(b)
    expect(caching.classify(b)).toBe(first)
    const again = uncached.classify(a)
    expect(uncached.classify(a)).not.toBe(again)
    expect(uncached.classify(a)).toEqual(again)
    // Routing is the same either way.
    await Promise.all([caching.ready(), uncached.ready()])
    for (const routed of [caching, uncached]) {
      expect(cluster.replicas.map((replica) => replica.port)).toContain(portOf(await routed.query(WHO)))
    }
  })

  it('evicts the least recently used text beyond the size', () => {
    const caching = router({ classifierCacheSize: 2 })
    const a = caching.classify('SELECT 1')
    caching.classify('SELECT 2')
    caching.classify('SELECT 3')
    expect(caching.classify('SELECT 1')).not.toBe(a)
  })
})

describe('ready({ signal })', () => {
  it('rejects with PGROUTE_ABORTED when the signal aborts, while the primary still hangs', async (context) => {
    requireControl(context, 'hangs the primary')
    await cluster.primary.hang()
    try {
      const routed = router({ healthCheck: { intervalMs: 5000, timeoutMs: 4000 } })
      const controller = new AbortController()
      const ready = failure(routed.ready({ signal: controller.signal }))
      controller.abort(new Error('shutting down'))
      const error = await ready
      expect(error).toMatchObject({ code: 'PGROUTE_ABORTED' })
      expect((error as Error).cause).toMatchObject({ message: 'shutting down' })
      expect(cluster.primary.hung).toBe(true)
    } finally {
      await cluster.primary.resume()
    }
  })

  it('rejects at once with an aborted signal, and resolves with one that never aborts', async () => {
    const routed = router()
    await expect(routed.ready({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'PGROUTE_ABORTED',
    })
    await routed.ready({ signal: new AbortController().signal })
    expect(routed.health().ok).toBe(true)
  })
})

describe('transaction({ deferrable })', () => {
  const settings =
    "SELECT current_setting('transaction_deferrable') AS deferrable, inet_server_port() AS port"

  it('begins DEFERRABLE: read-only on a replica, read-write on the primary', async () => {
    const routed = router()
    await routed.ready()
    const run = (options: Parameters<Router['transaction']>[1]) =>
      routed.transaction(async (client) => (await client.query(settings)).rows[0], options)
    const readOnly = await run({ readOnly: true, isolationLevel: 'repeatable read', deferrable: true })
    expect(readOnly.deferrable).toBe('on')
    expect(cluster.replicas.map((replica) => replica.port)).toContain(readOnly.port)
    const readWrite = await run({ deferrable: true })
    expect(readWrite).toEqual({ deferrable: 'on', port: cluster.primary.port })
    expect((await run({ readOnly: true })).deferrable).toBe('off')
  })
})
