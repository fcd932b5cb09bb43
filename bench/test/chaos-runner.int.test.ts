import { pgbouncerUnavailable } from '@pgroute/cluster'
import { describe, expect, it } from 'vitest'
import { primaryKilled, replicaKilled } from '../src/chaos/fault-scenarios.js'
import { runScenario } from '../src/chaos/scenario-runner.js'

describe('runScenario()', () => {
  it('runs a scenario under mixed load, measures it and leaves nothing behind', async () => {
    const result = await runScenario(replicaKilled, 6000)
    expect(result.skipped).toBeUndefined()
    // The scenario's own pass rule (0 read and write errors, 0 stale reads) and the runner's checks.
    expect(result.failures).toEqual([])
    const report = result.report!
    expect(report).toBeDefined()
    const { metrics } = report
    expect(metrics.outcomes.length).toBeGreaterThan(100)
    for (const kind of ['read', 'write', 'token'] as const) {
      expect(metrics.outcomes.some((o) => o.kind === kind && !o.error)).toBe(true)
    }
    expect(metrics.sessionReads).toBeGreaterThan(10)
    expect(metrics.acknowledged.length).toBeGreaterThan(10)
    expect([...metrics.marks.keys()]).toEqual(['fault', 'healed'])
    expect(new Set(metrics.routes.map((route) => route.node))).toEqual(
      new Set(['primary', 'replica-1', 'replica-2']),
    )
    expect(report.endMs).toBeDefined()
    expect(report.unfinished).toBe(0)
    expect(report.serverConnections).toBe(0)
    expect(report.clientSockets).toBe(0)
  })
})

describe('runScenario() via PgBouncer (--via pgbouncer-transaction)', () => {
  it('runs the load through one PgBouncer per server: routes named after the servers, nothing left behind', async (context) => {
    const missing = pgbouncerUnavailable()
    if (missing) return context.skip(missing)
    const result = await runScenario(replicaKilled, 6000, 'pgbouncer-transaction')
    expect(result.failures).toEqual([])
    const report = result.report!
    expect(report.metrics.sessionReads).toBeGreaterThan(10)
    expect(new Set(report.metrics.routes.map((route) => route.node))).toEqual(
      new Set(['primary', 'replica-1', 'replica-2']),
    )
    expect(report.serverConnections).toBe(0)
    expect(report.clientSockets).toBe(0)
  })

  it('lists a row the shape cannot support with the reason, without starting anything', async (context) => {
    const missing = pgbouncerUnavailable()
    if (missing) return context.skip(missing)
    const result = await runScenario(primaryKilled, 6000, 'pgbouncer-session')
    expect(result.skipped).toMatch(/server_login_retry/)
    expect(result.report).toBeUndefined()
  })
})
