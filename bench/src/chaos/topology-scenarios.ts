/** Scenarios where the topology changes under the router: a failover, and a split brain after it. */
import { clusterOf } from './fault-scenarios.js'
import { markOf, noErrors, noStaleReads, writesRecovered } from './pass-rules.js'
import type { Scenario } from './scenario.js'

const writeRecoveryMs = 3000
const spanningWanted = 200

export const failover: Scenario = {
  name: 'failover',
  summary: 'promote replica-1 (old primary stopped first, replica-2 re-pointed) at 35 % of the run',
  rule: `writes succeed on the new primary ${writeRecoveryMs / 1000} s after the promotion; 0 read errors; 0 stale over ≥ ${spanningWanted} token sessions written before and read after it`,
  minDurationMs: 15_000,
  async inject(context) {
    const cluster = clusterOf(context)
    await context.wait(context.durationMs * 0.35)
    context.metrics.mark('fault')
    await cluster.promote('replica-1')
    context.metrics.mark('healed')
  },
  judge(report) {
    const promoted = markOf(report, 'healed')
    const { spanningReads } = report.metrics
    return [
      ...writesRecovered(report, promoted + writeRecoveryMs),
      ...noErrors(report, 'read'),
      ...noStaleReads(report),
      ...(spanningReads >= spanningWanted
        ? []
        : [`only ${spanningReads} token sessions spanned the failover (wanted ${spanningWanted})`]),
    ]
  },
}

export const splitBrain: Scenario = {
  name: 'split-brain',
  summary:
    'promote replica-1 without re-pointing replica-2, 2 s later restart the old primary read-write on its own (replica-2 follows it)',
  rule: 'the old primary and replica-2 get 0 statements once it restarted; 0 read errors; 0 stale; 0 lost writes',
  minDurationMs: 15_000,
  async inject(context) {
    const cluster = clusterOf(context)
    const oldPrimary = cluster.primary
    await context.wait(context.durationMs * 0.3)
    context.metrics.mark('fault')
    await cluster.promote('replica-1', { follow: false })
    await context.wait(2000)
    await oldPrimary.startStandalone()
    context.metrics.mark('healed')
  },
  judge(report) {
    const restarted = markOf(report, 'healed')
    const { metrics } = report
    const fenced = ['primary', 'replica-2']
      .map((node) => [node, metrics.routedTo(node, restarted)] as const)
      .filter(([, count]) => count > 0)
      .map(([node, count]) => `${count} statements went to ${node} after the split`)
    return [...fenced, ...noErrors(report, 'read'), ...noStaleReads(report)]
  },
}
