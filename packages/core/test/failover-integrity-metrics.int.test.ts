/**
 * Issue #20, item 9: after a failover, metrics count the new primary's statements under `pgroute.role=primary`.
 */
import { metrics } from '@opentelemetry/api'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { requireControl } from '@pgroute/cluster/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { METRICS } from '../src/observability/router-telemetry.js'
import { portOf, routerFor, WHO } from './helpers/cluster-helpers.js'
import { TestResources } from './helpers/failover-helpers.js'

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
const meterProvider = new MeterProvider({ readers: [reader] })
const resources = new TestResources()

beforeAll(() => {
  // Registered before any router exists, as the README asks.
  metrics.setGlobalMeterProvider(meterProvider)
})
afterEach(() => resources.release())
afterAll(async () => {
  await meterProvider.shutdown()
  metrics.disable()
})

/** Sum of `pgroute.statements` by `node/role`. */
async function statementsByNodeAndRole(): Promise<Record<string, number>> {
  exporter.reset()
  await reader.forceFlush()
  const metric = exporter
    .getMetrics()
    .flatMap((resource) => resource.scopeMetrics)
    .flatMap((scope) => scope.metrics)
    .find((m) => m.descriptor.name === METRICS.statements)
  const sums: Record<string, number> = {}
  for (const point of metric?.dataPoints ?? []) {
    const attributes = point.attributes as Record<string, string>
    const key = `${attributes['pgroute.node']}/${attributes['pgroute.role']}`
    sums[key] = (sums[key] ?? 0) + (point.value as number)
  }
  return sums
}

describe('pgroute.statements after a failover', () => {
  it("counts the new primary's statements as role=primary", async (context) => {
    requireControl(context, 'promotes a replica')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c))
    await router.ready()
    for (let i = 0; i < 5; i++) expect(portOf(await router.query(WHO))).toBe(c.replicas[0]!.port)
    const changed = new Promise((resolve) => router.once('primary-changed', resolve))
    await c.promote(c.replicas[0]!)
    await changed
    // The same text, now on replica-1 as the primary.
    for (let i = 0; i < 5; i++) expect(portOf(await router.primary.query(WHO))).toBe(c.primary.port)
    expect(await statementsByNodeAndRole()).toMatchObject({
      'replica-1/replica': 5,
      'replica-1/primary': 5,
    })
  })
})
