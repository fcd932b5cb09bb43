/** A failover performed by a real HA manager (Patroni on etcd), skipped where Patroni is not installed. */

import { markOf, noErrors, noStaleReads, writesRecovered } from './pass-rules.js'
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
