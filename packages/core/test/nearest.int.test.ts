/**
 * `balance: 'nearest'` on a real cluster, one replica near (on loopback) and one far (behind a delay proxy adding
 * `FAR_MS` to every round trip): reads go to the near one while it has free connections, spill to the far one when
 * its pool is full of slow reads, follow zones over round trips, respect the lag bounds, keep sessions' reads
 * exact, and follow a distance that changes at run time. The rule on its own is in nearest-selector.unit.test.ts.
 */
import { metrics } from '@opentelemetry/api'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { type Cluster, type DelayProxy, startDelayProxy } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeStatus, RouteEvent, Router, RouterOptions } from '../src/index.js'
import { createRouter } from '../src/index.js'
import { METRICS } from '../src/observability/router-telemetry.js'
import { FAST_HEALTH, portOf, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'

let cluster: Cluster
let proxy: DelayProxy
const routers: Router[] = []
/**
 * Round trip the proxy adds to the far replica, in ms: well above what a loaded machine adds to a loopback round
 * trip, so that the near replica stays the nearer one by measure.
 */
const FAR_MS = 10
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
})
const meterProvider = new MeterProvider({ readers: [reader] })

beforeAll(async () => {
  // Registered before any router exists: each binds its instruments when created.
  metrics.setGlobalMeterProvider(meterProvider)
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query('CREATE TABLE notes (id bigserial PRIMARY KEY, body text)')
  await cluster.waitForReplication()
  proxy = await startDelayProxy(cluster.replicas[1]!, { delay: FAR_MS })
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await proxy?.close()
  await cluster?.stop()
  await meterProvider.shutdown()
  metrics.disable()
})

/** Collects now; the data points of metric `name` as `node:attribute` → value, `attribute` naming the series. */
async function pointsOf(name: string, attribute: string): Promise<Map<string, number>> {
  metricExporter.reset()
  await reader.forceFlush()
  const found = metricExporter
    .getMetrics()
    .flatMap((resource) => resource.scopeMetrics)
    .flatMap((scope) => scope.metrics)
    .find((metric) => metric.descriptor.name === name)
  const points = new Map<string, number>()
  for (const point of found?.dataPoints ?? []) {
    const key = `${point.attributes['pgroute.node']}:${point.attributes[attribute] ?? ''}`
    points.set(key, (points.get(key) ?? 0) + (point.value as number))
  }
  return points
}

const nearPort = () => cluster.replicas[0]!.port
const farPort = () => cluster.replicas[1]!.port

/** A router over the primary, `near` (on loopback) and `far` (behind the proxy), balancing `'nearest'`. */
async function router(
  options: Partial<RouterOptions> & {
    nearZone?: string
    farZone?: string
    max?: number
    nearUrl?: string
  } = {},
): Promise<{ router: Router; routes: RouteEvent[] }> {
  const { nearZone, farZone, max = 10, nearUrl = cluster.replicas[0]!.url, ...rest } = options
  const created = createRouter({
    primary: cluster.primary.url,
    replicas: [
      { name: 'near', connectionString: nearUrl, zone: nearZone, max },
      { name: 'far', connectionString: proxy.url!, zone: farZone, max },
    ],
    healthCheck: FAST_HEALTH,
    balance: 'nearest',
    routeEvents: true,
    ...rest,
  })
  routers.push(created)
  const routes: RouteEvent[] = []
  created.on('route', (event) => routes.push(event))
  await created.ready()
  return { router: created, routes }
}

function rowOf(routed: Router, name: string): NodeStatus {
  return routed.status().find((row) => row.name === name)!
}

/** Waits until `routed` ranks `name` as `distance`. */
function waitForDistance(routed: Router, name: string, distance: 'near' | 'far', timeoutMs = 20_000) {
  return waitFor(
    () => rowOf(routed, name).distance === distance,
    timeoutMs,
    `${name} to be ${distance} (rtt ${rowOf(routed, name).rttMs} ms, near's ${rowOf(routed, 'near').rttMs} ms)`,
  )
}

/**
 * Waits (30 s: a busy machine delays probes) until `routed` ranks `near` near and `far` far, their round-trip
 * estimates on either side of half the added delay: the one with nothing added below it, the other above.
 */
async function waitForRanking(routed: Router, near: string, far: string): Promise<void> {
  const rows = () => [rowOf(routed, near), rowOf(routed, far)] as const
  try {
    await waitFor(
      () => {
        const [n, f] = rows()
        return (
          n.distance === 'near' && f.distance === 'far' && n.rttMs! < FAR_MS / 2 && f.rttMs! >= FAR_MS / 2
        )
      },
      30_000,
      `${near} near and ${far} far`,
    )
  } catch (error) {
    const [n, f] = rows()
    throw new Error(
      `${(error as Error).message} (${near}: ${n.distance}, rtt ${n.rttMs} ms; ${far}: ${f.distance}, rtt ${f.rttMs} ms)`,
    )
  }
}

/** Ports of `count` reads, `concurrency` at a time. */
async function readPorts(routed: Router, count: number, concurrency: number): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i += concurrency) {
    const batch = await Promise.all(Array.from({ length: concurrency }, () => routed.query(WHO)))
    ports.push(...batch.map(portOf))
  }
  return ports
}

const SLOW = 'SELECT inet_server_port() AS port FROM pg_sleep(1.5)'

describe("balance: 'nearest' by round trip (no zones)", () => {
  it('sends every read to the near replica while it has free connections; status shows both distances', async () => {
    const { router: routed, routes } = await router()
    await waitForDistance(routed, 'far', 'far')
    const far = rowOf(routed, 'far')
    const near = rowOf(routed, 'near')
    // The proxy never delivers early: the far replica's estimate is at least its added delay.
    expect(far.rttMs!).toBeGreaterThanOrEqual(FAR_MS)
    expect(near).toMatchObject({ distance: 'near', zone: null })
    expect(near.rttMs!).toBeLessThan(far.rttMs!)
    routes.length = 0
    // Four at a time: the near replica (10 connections) always has room.
    const ports = await readPorts(routed, 80, 4)
    expect(new Set(ports)).toEqual(new Set([nearPort()]))
    expect(new Set(routes.map((event) => `${event.node}:${event.reason}`))).toEqual(new Set(['near:nearest']))
    // The primary has a distance too (informational: it takes reads only as the fallback).
    expect(routed.status()[0]!.rttMs).not.toBeNull()
  })

  it('spills over to the far replica while the near one has every connection taken by slow reads, then comes back', async () => {
    const { router: routed, routes } = await router({ max: 2 })
    await waitForDistance(routed, 'far', 'far')
    routes.length = 0
    const choicesBefore = await pointsOf(METRICS.choices, 'pgroute.choice')
    const counted = (points: Map<string, number>, key: string) =>
      (points.get(key) ?? 0) - (choicesBefore.get(key) ?? 0)
    const statusBefore = { near: rowOf(routed, 'near').choices!, far: rowOf(routed, 'far').choices! }
    const slowNear = [routed.query(SLOW), routed.query(SLOW)]
    await waitFor(() => rowOf(routed, 'near').inFlight === 2, 10_000, 'two slow reads on near')
    // Near is saturated: the next read goes far, as a spill-over.
    expect(portOf(await routed.query(WHO))).toBe(farPort())
    expect(routes.at(-1)).toMatchObject({ node: 'far', reason: 'spill-over' })
    // Both saturated: the next read queues on the near one (it frees first, and queueing near is no slower).
    const slowFar = [routed.query(SLOW), routed.query(SLOW)]
    await waitFor(() => rowOf(routed, 'far').inFlight === 2, 10_000, 'two slow reads on far')
    const queued = routed.query(WHO)
    // Its route event comes at its checkout, once a slow read gave a connection back.
    expect(portOf(await queued)).toBe(nearPort())
    expect(routes.at(-1)).toMatchObject({ node: 'near', reason: 'nearest' })
    expect((await Promise.all(slowNear)).map(portOf)).toEqual([nearPort(), nearPort()])
    expect((await Promise.all(slowFar)).map(portOf)).toEqual([farPort(), farPort()])
    // Free again: near.
    routes.length = 0
    expect(new Set(await readPorts(routed, 10, 1))).toEqual(new Set([nearPort()]))
    expect(routes.every((event) => event.reason === 'nearest')).toBe(true)
    // status() and the metrics count the same choices: 2 slow + 1 queued + 10 on near, 1 spill-over + 2 slow on far.
    const near = rowOf(routed, 'near').choices!
    const far = rowOf(routed, 'far').choices!
    expect({
      near: near.nearest - statusBefore.near.nearest,
      spill: far.spillOver - statusBefore.far.spillOver,
    }).toEqual({
      near: 13,
      spill: 3,
    })
    expect(far.far - statusBefore.far.far).toBe(0)
    const choices = await pointsOf(METRICS.choices, 'pgroute.choice')
    expect(counted(choices, 'near:nearest')).toBe(13)
    expect(counted(choices, 'far:spill-over')).toBe(3)
    const rtt = await pointsOf(METRICS.rtt, 'pgroute.role')
    expect(rtt.get('far:replica')!).toBeGreaterThanOrEqual(FAR_MS)
    expect(rtt.get('near:replica')!).toBeLessThan(rtt.get('far:replica')!)
  })

  it('follows distances that change at run time: when the two replicas swap distances the reads follow, and back', async () => {
    // The near replica behind a proxy of its own too (0 ms added), so that its distance can change; the two then
    // swap by `FAR_MS`, far more than a busy machine adds to a round trip, and the test waits (generously) for the
    // estimates to follow rather than for a step to be absorbed in so many probes. A router that kept the
    // distances it measured first would go on reading from the first near replica: both waits and reads fail then.
    const nearProxy = await startDelayProxy(cluster.replicas[0]!, { delay: 0 })
    // Probing every 500 ms, a probe allowed 450 ms: a busy machine does not time probes out (a node marked down
    // would take no reads, whatever its distance).
    const { router: routed, routes } = await router({
      nearUrl: nearProxy.url!,
      healthCheck: { intervalMs: 500, timeoutMs: 450 },
    })
    try {
      await waitForRanking(routed, 'near', 'far')
      routes.length = 0
      expect(new Set(await readPorts(routed, 10, 1))).toEqual(new Set([nearPort()]))
      // Swapped: the replica the router measured far is now the near one, and the other way round.
      proxy.setDelay(0)
      nearProxy.setDelay(FAR_MS)
      await waitForRanking(routed, 'far', 'near')
      routes.length = 0
      expect(new Set(await readPorts(routed, 10, 1))).toEqual(new Set([farPort()]))
      expect(new Set(routes.map((event) => `${event.node}:${event.reason}`))).toEqual(
        new Set(['far:nearest']),
      )
      // And back.
      proxy.setDelay(FAR_MS)
      nearProxy.setDelay(0)
      await waitForRanking(routed, 'near', 'far')
      routes.length = 0
      expect(new Set(await readPorts(routed, 10, 1))).toEqual(new Set([nearPort()]))
      expect(new Set(routes.map((event) => `${event.node}:${event.reason}`))).toEqual(
        new Set(['near:nearest']),
      )
    } finally {
      proxy.setDelay(FAR_MS)
      // Ended before its proxy closes under it.
      await routed.end()
      await nearProxy.close()
    }
  })
})

describe("balance: 'nearest' with zones", () => {
  it("prefers the router's zone over a shorter round trip, and spills to the other zone when it is full", async () => {
    // The far replica (10 ms) shares the router's zone; the near one is in another zone.
    const { router: routed, routes } = await router({
      zone: 'use1-az2',
      nearZone: 'use1-az1',
      farZone: 'use1-az2',
      max: 2,
    })
    expect(rowOf(routed, 'far')).toMatchObject({ zone: 'use1-az2', distance: 'near' })
    expect(rowOf(routed, 'near')).toMatchObject({ zone: 'use1-az1', distance: 'far' })
    routes.length = 0
    expect(new Set(await readPorts(routed, 20, 1))).toEqual(new Set([farPort()]))
    expect(routes.every((event) => event.node === 'far' && event.reason === 'nearest')).toBe(true)
    const slow = [routed.query(SLOW), routed.query(SLOW)]
    await waitFor(() => rowOf(routed, 'far').inFlight === 2, 10_000, 'two slow reads on far')
    expect(portOf(await routed.query(WHO))).toBe(nearPort())
    expect(routes.at(-1)).toMatchObject({ node: 'near', reason: 'spill-over' })
    expect((await Promise.all(slow)).map(portOf)).toEqual([farPort(), farPort()])
  })
})

describe("balance: 'nearest' keeps the lag bounds and read-your-writes exact", () => {
  it('sends no read to a near replica past the lag bound: the far one takes them (`far`), until it catches up', async (context) => {
    requireControl(context, 'pauses replay on the near replica')
    const { router: routed, routes } = await router({ lag: { maxBytes: 64 * 1024 } })
    await waitForDistance(routed, 'far', 'far')
    const near = cluster.replicas[0]!
    await near.pauseReplay()
    try {
      await cluster.primary.query(
        `INSERT INTO notes (body) SELECT repeat('x', 200) FROM generate_series(1, 5000)`,
      )
      await waitForState(routed, 'near', 'lagging')
      await waitForState(routed, 'far', 'up')
      routes.length = 0
      expect(new Set(await readPorts(routed, 20, 2))).toEqual(new Set([farPort()]))
      expect(new Set(routes.map((event) => `${event.node}:${event.reason}`))).toEqual(new Set(['far:far']))
    } finally {
      await near.resumeReplay()
    }
    await waitForState(routed, 'near', 'up')
    expect(new Set(await readPorts(routed, 10, 1))).toEqual(new Set([nearPort()]))
  })

  it('asks the nearest of the equally advanced replicas whether it has replayed a session write the probes have not seen', async () => {
    // Probes 10 s apart: after the first round, no probe sees a session's write, so every session read asks a
    // replica directly. Both replicas were equally advanced at that round; the far one (another zone, and 10 ms
    // away) is listed first.
    const created = createRouter({
      primary: cluster.primary.url,
      replicas: [
        { name: 'far', connectionString: proxy.url!, zone: 'use1-az2' },
        { name: 'near', connectionString: cluster.replicas[0]!.url, zone: 'use1-az1' },
      ],
      healthCheck: { intervalMs: 10_000, timeoutMs: 5_000 },
      balance: 'nearest',
      zone: 'use1-az1',
    })
    routers.push(created)
    await cluster.waitForReplication()
    await created.ready()
    const [far, near] = [rowOf(created, 'far'), rowOf(created, 'near')]
    expect(far.lsn).toBe(near.lsn)
    expect(far.distance).toBe('far')
    const reads = []
    for (let i = 0; i < 10; i++) {
      reads.push(
        await created.session(async () => {
          const { rows } = await created.query<{ id: string }>(
            "INSERT INTO notes (body) VALUES ('asked') RETURNING id",
          )
          const read = await created.query<{ port: number; n: string }>(
            'SELECT inet_server_port() AS port, count(*) AS n FROM notes WHERE id = $1',
            [rows[0]!.id],
          )
          return `${portOf(read)}:${read.rows[0]!.n}`
        }),
      )
    }
    // Each read went to the near replica (once it had replayed the write) or, where it had not yet, the primary.
    const primaryPort = cluster.primary.port
    expect(reads.filter((read) => read.endsWith(':1')).length).toBe(10)
    expect(reads.filter((read) => read === `${farPort()}:1`)).toEqual([])
    expect(reads.filter((read) => read === `${nearPort()}:1`).length).toBeGreaterThan(0)
    expect(reads.every((read) => [`${nearPort()}:1`, `${primaryPort}:1`].includes(read))).toBe(true)
  })

  it('session reads see their writes (0 stale), and never land on a near replica that has not replayed them', async (context) => {
    requireControl(context, 'pauses replay on the near replica')
    // No lag bound: the paused near replica stays a candidate, only read-your-writes keeps sessions off it.
    const lag = { maxBytes: Number.POSITIVE_INFINITY, maxMs: Number.POSITIVE_INFINITY }
    const { router: routed } = await router({ lag, readYourWrites: { maxWaitMs: 200 } })
    await waitForDistance(routed, 'far', 'far')
    const cycle = (paused: boolean) =>
      routed.session(async () => {
        const { rows } = await routed.query<{ id: string }>(
          "INSERT INTO notes (body) VALUES ('mine') RETURNING id",
        )
        const read = await routed.query<{ port: number; n: string }>(
          'SELECT inet_server_port() AS port, count(*) AS n FROM notes WHERE id = $1',
          [rows[0]!.id],
        )
        return { stale: read.rows[0]!.n !== '1', port: read.rows[0]!.port, paused }
      })
    const results = []
    // Caught up, 4 sessions at a time.
    for (let i = 0; i < 10; i++) results.push(...(await Promise.all([1, 2, 3, 4].map(() => cycle(false)))))
    const near = cluster.replicas[0]!
    await near.pauseReplay()
    try {
      for (let i = 0; i < 10; i++) results.push(...(await Promise.all([1, 2, 3, 4].map(() => cycle(true)))))
      // Plain reads still go near meanwhile (no lag bound): only the session's check kept its reads off it.
      expect(portOf(await routed.query(WHO))).toBe(nearPort())
    } finally {
      await near.resumeReplay()
    }
    expect(results).toHaveLength(80)
    expect(results.filter((result) => result.stale)).toEqual([])
    expect(results.filter((result) => result.paused && result.port === nearPort())).toEqual([])
  })
})
