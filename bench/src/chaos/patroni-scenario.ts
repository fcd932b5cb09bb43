/** A failover performed by a real HA manager (Patroni on etcd), skipped where Patroni is not installed. */

import { switchoverLatencyNote } from './integrity-scenarios.js'
import { markOf, noErrors, noStaleReads, unaffected, writesRecovered } from './pass-rules.js'
import { isPatroniEnvironment, patroniEnvironment, patroniUnavailable } from './patroni-environment.js'
import type { Scenario } from './scenario.js'

const writeRecoveryMs = 3000

export const patroniFailover: Scenario = {
  name: 'patroni-failover',
  summary:
    'Patroni 1 + 2 on etcd (Debian packages); `patronictl failover --candidate node2` at 35 % of the run (Patroni demotes node1 and rewinds it into a replica)',
  rule: `writes succeed on the new leader ${writeRecoveryMs / 1000} s after patronictl returned; 0 read errors; 0 stale`,
  minDurationMs: 20_000,
  unavailable: patroniUnavailable,
  environment: patroniEnvironment,
  async inject(context) {
    const env = context.env
    if (!isPatroniEnvironment(env)) throw new Error('patroni-failover needs the Patroni environment')
    await context.wait(context.durationMs * 0.35)
    context.metrics.mark('fault')
    const started = performance.now()
    const output = await env.failover('node2')
    context.metrics.mark('healed')
    const said =
      output
        .trim()
        .split('\n')
        .find((line) => line.includes('failed over')) ?? output.trim()
    context.metrics.notes.push(
      `patronictl failover returned after ${Math.round(performance.now() - started)} ms: ${said.slice(0, 160)}`,
    )
  },
  judge(report) {
    const healed = markOf(report, 'healed')
    return [
      ...writesRecovered(report, healed + writeRecoveryMs),
      ...noErrors(report, 'read'),
      ...noStaleReads(report),
    ]
  },
}

export const patroniSwitchoverWaiting: Scenario = {
  name: 'patroni-switchover-waiting',
  summary:
    'Patroni 1 + 2 on etcd, failover.waitMs 15000: `patronictl switchover --leader node1 --candidate node2` at 35 % of the run (a planned switchover: Patroni stops node1 cleanly, promotes node2, rewinds node1 into a replica)',
  rule: '0 write errors, 0 read errors, 0 stale: writes wait for the new leader instead of failing (their added latency is noted)',
  minDurationMs: 20_000,
  unavailable: patroniUnavailable,
  environment: patroniEnvironment,
  routerOptions: { failover: { waitMs: 15_000 } },
  async inject(context) {
    const env = context.env
    if (!isPatroniEnvironment(env))
      throw new Error('patroni-switchover-waiting needs the Patroni environment')
    await context.wait(context.durationMs * 0.35)
    context.metrics.mark('fault')
    const started = performance.now()
    const output = await env.switchover('node1', 'node2')
    context.metrics.mark('healed')
    const said =
      output
        .trim()
        .split('\n')
        .find((line) => line.includes('witched over')) ?? output.trim()
    context.metrics.notes.push(
      `patronictl switchover returned after ${Math.round(performance.now() - started)} ms: ${said.slice(0, 160)}`,
    )
  },
  judge(report) {
    report.metrics.notes.push(switchoverLatencyNote(report))
    return [...unaffected(report), ...writesRecovered(report, markOf(report, 'healed') + writeRecoveryMs)]
  },
}
