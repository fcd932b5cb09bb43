import { context, metrics, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { Cluster } from '@pgroute/cluster'
import { requireControl, requirePassword, startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Router } from '../src/index.js'
import { METRICS } from '../src/observability/router-telemetry.js'
import { FAST_HEALTH, routerFor, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'

type Fields = Record<string, unknown>
interface LogLine {
  readonly level: string
  readonly fields: Fields
  readonly message: string
}

let cluster: Cluster
let router: Router
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
})
const meterProvider = new MeterProvider({ readers: [reader] })
const spanExporter = new InMemorySpanExporter()
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] })
const contextManager = new AsyncLocalStorageContextManager().enable()
const tracer = tracerProvider.getTracer('test')
const lines: LogLine[] = []
const logger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [
    level,
    (fields: Fields, message: string) => lines.push({ level, fields, message }),
  ]),
) as unknown as Record<'debug' | 'info' | 'warn' | 'error', (fields: Fields, message: string) => void>

beforeAll(async () => {
  // Registered before the router exists, as the README asks.
  metrics.setGlobalMeterProvider(meterProvider)
  trace.setGlobalTracerProvider(tracerProvider)
  context.setGlobalContextManager(contextManager)
  cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
  await cluster.primary.query(`
    CREATE TABLE calls (id bigserial PRIMARY KEY);
    CREATE FUNCTION record_call() RETURNS bigint LANGUAGE sql VOLATILE AS
      $$ INSERT INTO calls DEFAULT VALUES RETURNING id $$;`)
  await cluster.waitForReplication()
  // Only the undelayed replica: the delayed one is for the session test below.
  router = routerFor(cluster, {
    replicas: [{ name: 'replica-1', connectionString: cluster.replicas[0]!.url }],
    pool: { max: 2 },
    logger,
  })
  await router.ready()
})

afterAll(async () => {
  await router?.end()
  await cluster?.stop()
  await meterProvider.shutdown()
  await tracerProvider.shutdown()
  contextManager.disable()
  trace.disable()
  metrics.disable()
  context.disable()
})

interface Point {
  readonly attributes: Fields
  readonly value: number
}

/** Collects now and returns the data points of metric `name`. */
async function pointsOf(name: string): Promise<Point[]> {
  metricExporter.reset()
  await reader.forceFlush()
  const all = metricExporter.getMetrics().flatMap((resource) => resource.scopeMetrics)
  const metric = all.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name)
  return (metric?.dataPoints ?? []).map((point) => ({
    attributes: point.attributes as Fields,
    value: point.value as number,
  }))
}

function pointValue(points: Point[], attributes: Fields): number {
  const point = points.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
  return point?.value ?? 0
}

describe('OpenTelemetry metrics and spans', () => {
  it('counts statements by node, role and reason, and tags the caller span', async () => {
    const before = await pointsOf(METRICS.statements)
    await tracer.startActiveSpan('GET /posts', async (span) => {
      await router.query(WHO)
      span.end()
    })
    await tracer.startActiveSpan('POST /posts', async (span) => {
      await router.query('INSERT INTO calls DEFAULT VALUES')
      span.end()
    })
    const spans = spanExporter.getFinishedSpans()
    const read = spans.find((span) => span.name === 'GET /posts')!
    const write = spans.find((span) => span.name === 'POST /posts')!
    expect(read.attributes).toMatchObject({ 'pgroute.node': 'replica-1', 'pgroute.reason': 'read' })
    expect(write.attributes).toMatchObject({
      'pgroute.node': router.status()[0]!.name,
      'pgroute.role': 'primary',
    })
    expect(write.attributes['pgroute.reason']).not.toBe('read')

    const after = await pointsOf(METRICS.statements)
    const reads = { 'pgroute.node': 'replica-1', 'pgroute.role': 'replica', 'pgroute.reason': 'read' }
    expect(pointValue(after, reads) - pointValue(before, reads)).toBe(1)
    const primaryName = router.status()[0]!.name
    const primaryStatements = (points: Point[]) =>
      points.filter((p) => p.attributes['pgroute.node'] === primaryName).reduce((sum, p) => sum + p.value, 0)
    expect(primaryStatements(after) - primaryStatements(before)).toBe(1)
  })

  it('reports node state, lag and pool gauges', async () => {
    const states = await pointsOf(METRICS.nodeState)
    expect(pointValue(states, { 'pgroute.node': 'replica-1', 'pgroute.state': 'up' })).toBe(1)
    expect(pointValue(states, { 'pgroute.node': 'replica-1', 'pgroute.state': 'down' })).toBe(0)
    const lagBytes = await pointsOf(METRICS.lagBytes)
    expect(lagBytes.map((p) => p.attributes['pgroute.node'])).toEqual(['replica-1'])
    expect((await pointsOf(METRICS.lagSeconds))[0]!.value).toBeGreaterThanOrEqual(0)

    const primaryName = router.status()[0]!.name
    const held = [await router.primary.connect(), await router.primary.connect()]
    const waiting = router.primary.query('SELECT 1')
    try {
      await waitFor(
        async () => pointValue(await pointsOf(METRICS.poolWaiting), { 'pgroute.node': primaryName }) === 1,
        5000,
        'a waiting request',
      )
      expect(pointValue(await pointsOf(METRICS.poolInUse), { 'pgroute.node': primaryName })).toBe(2)
    } finally {
      for (const client of held) client.release()
    }
    await waiting
    expect(pointValue(await pointsOf(METRICS.poolWaiting), { 'pgroute.node': primaryName })).toBe(0)
  })

  it('counts a read a replica refused as a write (reroute) and logs it', async () => {
    const reroute = { 'pgroute.node': 'replica-1', 'pgroute.reason': 'read-only-rejection' }
    const before = pointValue(await pointsOf(METRICS.reroutes), reroute)
    await router.query('SELECT record_call()')
    expect(pointValue(await pointsOf(METRICS.reroutes), reroute) - before).toBe(1)
    const line = lines.find((l) => l.level === 'warn' && l.fields.reason === 'read-only-rejection')
    expect(line?.fields).toMatchObject({ from: 'replica-1', code: '25006' })
  })

  it('counts and logs session reads that fall back to the primary', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    // The only replica replays 2 s late: a read right after a write cannot go there.
    const late = routerFor(cluster, {
      replicas: [{ name: 'late-replica', connectionString: cluster.replicas[1]!.url }],
      readYourWrites: { maxWaitMs: 0 },
      logger,
    })
    try {
      await late.ready()
      await late.session(async () => {
        await late.query('INSERT INTO calls DEFAULT VALUES')
        await late.query('SELECT count(*) FROM calls')
      })
      const points = await pointsOf(METRICS.fallbacks)
      const primaryName = late.status()[0]!.name
      const fallback = { 'pgroute.node': primaryName, 'pgroute.reason': 'read-your-writes' }
      expect(pointValue(points, fallback)).toBe(1)
      expect(lines.some((l) => l.level === 'debug' && l.fields.reason === 'read-your-writes')).toBe(true)
    } finally {
      await late.end()
    }
  })

  it('runs the health probes with tracing suppressed (no span per probe), application statements traced', async () => {
    const seen: Array<{ monitor: boolean; recording: boolean }> = []
    const query = pg.Client.prototype.query
    const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
      this: pg.Client,
      ...args
    ) {
      const name = (this as unknown as { connectionParameters: { application_name?: string } })
        .connectionParameters.application_name
      // What an instrumentation of pg does for each statement: start a span in the active context.
      const span = tracer.startSpan('pg.query')
      seen.push({ monitor: name === 'pgroute-monitor', recording: span.isRecording() })
      span.end()
      return (query as (...a: unknown[]) => unknown).apply(this, args) as never
    })
    try {
      await waitFor(() => seen.filter((s) => s.monitor).length >= 4, 5000, 'a few probes')
      await router.query(WHO)
    } finally {
      spy.mockRestore()
    }
    const probes = seen.filter((s) => s.monitor)
    expect(probes.every((s) => !s.recording)).toBe(true)
    expect(seen.some((s) => !s.monitor && s.recording)).toBe(true)
  })

  it('counts a read retried after its connection was cut; the node is re-probed untraced', async () => {
    const monitorSpans: boolean[] = []
    const query = pg.Client.prototype.query
    const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
      this: pg.Client,
      ...args
    ) {
      const parameters = (this as unknown as { connectionParameters: { application_name?: string } })
        .connectionParameters
      if (parameters.application_name === 'pgroute-monitor') {
        const span = tracer.startSpan('pg.query')
        monitorSpans.push(span.isRecording())
        span.end()
      }
      return (query as (...a: unknown[]) => unknown).apply(this, args) as never
    })
    const retry = { 'pgroute.node': 'replica-1', 'pgroute.reason': 'retry' }
    const before = pointValue(await pointsOf(METRICS.reroutes), retry)
    const direct = new pg.Client(cluster.replicas[0]!.connectionConfig)
    await direct.connect()
    const SLOW = 'SELECT pg_sleep(1), inet_server_port() AS port'
    const running = `SELECT pid FROM pg_stat_activity WHERE query = '${SLOW}' AND pid <> pg_backend_pid()`
    try {
      const read = tracer.startActiveSpan('slow read', async (span) => {
        try {
          return await router.query(SLOW)
        } finally {
          span.end()
        }
      })
      await waitFor(async () => (await direct.query(running)).rowCount === 1, 5000, 'the read to run')
      await direct.query(`SELECT pg_terminate_backend(pid) FROM (${running}) AS r`)
      // Retried on the primary: the only replica's connection was cut (the replica is suspect until its probe).
      expect(Number((await read).rows[0]!.port)).toBe(cluster.primary.port)
      expect(pointValue(await pointsOf(METRICS.reroutes), retry) - before).toBe(1)
      await waitForState(router, 'replica-1', 'up', 10_000)
    } finally {
      spy.mockRestore()
      await direct.end()
    }
    expect(monitorSpans.length).toBeGreaterThan(0)
    expect(monitorSpans.every((recording) => !recording)).toBe(true)
    // One lost connection is a suspicion the probe cleared: the replica was never marked down.
    expect(lines.some((l) => l.fields.node === 'replica-1' && l.fields.to === 'down')).toBe(false)
  })

  it('logs state changes without passwords', async (context) => {
    expect(lines.some((l) => l.level === 'info' && l.fields.to === 'up')).toBe(true)
    const password = requirePassword(context, cluster)
    expect(JSON.stringify(lines)).not.toContain(password)
  })

  it('router.pool.end() and router.primary.end() end its telemetry too, as router.end() does', async () => {
    // The gauges' callback a router registers with the SDK's meter, and whether it still is: with cumulative
    // temporality the SDK goes on exporting the last values of a callback removed, so ask the meter itself.
    const registered = new Set<unknown>()
    const getMeter = meterProvider.getMeter.bind(meterProvider)
    const spy = vi.spyOn(meterProvider, 'getMeter').mockImplementation((...args) => {
      const meter = getMeter(...args)
      const add = meter.addBatchObservableCallback.bind(meter)
      const remove = meter.removeBatchObservableCallback.bind(meter)
      meter.addBatchObservableCallback = (callback, observables) => {
        registered.add(callback)
        add(callback, observables)
      }
      meter.removeBatchObservableCallback = (callback, observables) => {
        registered.delete(callback)
        remove(callback, observables)
      }
      return meter
    })
    try {
      for (const end of ['pool', 'primary'] as const) {
        const local = routerFor(cluster, {
          replicas: [{ name: `ended-by-${end}`, connectionString: cluster.replicas[0]!.url }],
        })
        await local.ready()
        expect(registered.size).toBe(1)
        await local[end].end()
        expect(registered.size).toBe(0)
      }
    } finally {
      spy.mockRestore()
    }
  })

  it('a router with openTelemetry: false reports nothing', async () => {
    const quiet = routerFor(cluster, {
      primary: cluster.primary.url,
      replicas: [{ name: 'quiet-replica', connectionString: cluster.replicas[0]!.url }],
      openTelemetry: false,
      healthCheck: FAST_HEALTH,
    })
    try {
      await quiet.ready()
      await quiet.query(WHO)
      const names = (await pointsOf(METRICS.statements)).map((p) => p.attributes['pgroute.node'])
      const states = (await pointsOf(METRICS.nodeState)).map((p) => p.attributes['pgroute.node'])
      expect([...names, ...states]).not.toContain('quiet-replica')
    } finally {
      await quiet.end()
    }
  })
})
