import { PgRouteError } from '@pgroute/core'
import { describe, expect, it } from 'vitest'
import { ChaosMetrics, errorClass } from '../src/chaos/chaos-metrics.js'
import { noErrors, writesFailFast } from '../src/chaos/pass-rules.js'
import { patroniUnavailable } from '../src/chaos/patroni-environment.js'
import type { ScenarioReport } from '../src/chaos/scenario.js'
import type { ScenarioResult } from '../src/chaos/scenario-runner.js'
import { scenarios } from '../src/chaos/scenarios.js'
import { formatTable } from '../src/chaos/table-printer.js'

function report(metrics: ChaosMetrics): ScenarioReport {
  return {
    metrics,
    unfinished: 0,
    endMs: 1,
    serverConnections: 0,
    clientSockets: 0,
    lostWrites: 0,
    lostKeys: new Set(),
    loadEndedAt: performance.now() + 5000,
  }
}

describe('chaos metrics', () => {
  it('classifies errors by class and code', () => {
    expect(errorClass(new PgRouteError('PGROUTE_CLOSED', 'closed'))).toBe('PgRouteError:PGROUTE_CLOSED')
    expect(errorClass(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(
      'Error:ECONNREFUSED',
    )
    expect(errorClass(new TypeError('x'))).toBe('TypeError:-')
    expect(errorClass('text')).toBe('string:-')
  })

  it('summarises errors, latency and recovery', () => {
    const metrics = new ChaosMetrics()
    const now = performance.now()
    metrics.mark('fault')
    metrics.record('read', now - 10)
    metrics.record('write', now - 300, new PgRouteError('PGROUTE_NO_ELIGIBLE_NODE', 'none'))
    metrics.record('write', now - 20, new PgRouteError('PGROUTE_NO_ELIGIBLE_NODE', 'none'))
    expect(metrics.errorSummary()).toBe('write PgRouteError:PGROUTE_NO_ELIGIBLE_NODE×2')
    expect(metrics.failures('read')).toEqual([])
    expect(metrics.latency(1)).toBeGreaterThanOrEqual(300)
    expect(metrics.recoveryMs(performance.now() + 5000)).toBeGreaterThanOrEqual(0)
    expect(metrics.recoveryMs(performance.now())).toBeUndefined() // errors into the last second
    expect(noErrors(report(metrics), 'write')).toEqual(['2 write errors'])
    const window = { from: 0, to: performance.now() }
    expect(writesFailFast(report(metrics), window)).toEqual([
      '2 failed writes not PgRouteError:PGROUTE_PRIMARY_UNAVAILABLE',
    ])
  })

  it('prints one Markdown row per scenario with its verdict', () => {
    const metrics = new ChaosMetrics()
    metrics.record('read', performance.now())
    const results: ScenarioResult[] = [
      { scenario: scenarios[0]!, report: report(metrics), failures: [] },
      { scenario: scenarios[1]!, report: report(metrics), failures: ['1 read errors'] },
      {
        scenario: scenarios.find((s) => s.name === 'patroni-failover')!,
        failures: [],
        skipped: 'not installed',
      },
    ]
    const lines = formatTable(results).split('\n')
    expect(lines).toHaveLength(5)
    expect(lines[2]).toMatch(/^\| replica-killed .*\| PASS +\|$/)
    expect(lines[3]).toMatch(/\| FAIL +\|$/)
    expect(lines[4]).toMatch(/^\| patroni-failover .*\| SKIP +\|$/)
  })
})

describe('the Patroni row', () => {
  it('says why it is skipped when Patroni is not on the PATH', () => {
    const path = process.env.PATH
    process.env.PATH = '/nonexistent'
    try {
      expect(patroniUnavailable()).toMatch(/^patroni, patronictl, etcd not installed/)
    } finally {
      process.env.PATH = path
    }
  })
})
