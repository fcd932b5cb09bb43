/** Scenarios that break one node and heal it: kill, hang, crash of the primary, lag, full connection slots. */
import type { Cluster } from '@pgroute/cluster'
import {
  latencyBound,
  markOf,
  noErrors,
  noStaleReads,
  unaffected,
  writesFailFast,
  writesRecovered,
} from './pass-rules.js'
import type { Scenario, ScenarioContext, ScenarioReport } from './scenario.js'

/** The embedded cluster of a scenario that controls nodes. */
export function clusterOf(context: ScenarioContext): Cluster {
  if (!context.env.cluster) throw new Error('this scenario needs the embedded cluster')
  return context.env.cluster
}

const hangMs = 10_000
const lagMs = 12_000
const burstSize = 24
const primaryDownMs = 3000
/** One health interval (1 s by default) plus probe and scheduling slack on a loaded machine. */
const graceMs = 3000

/**
 * The shape of every fault here: wait `afterMs`, mark `fault`, `apply` it, keep it `holdMs`, then always `undo`
 * it and mark `healed`.
 */
async function faultFor(
  context: ScenarioContext,
  { afterMs, holdMs }: { readonly afterMs: number; readonly holdMs: number },
  apply: () => Promise<unknown>,
  undo: () => Promise<unknown>,
): Promise<void> {
  await context.wait(afterMs)
  context.metrics.mark('fault')
  await apply()
  try {
    await context.wait(holdMs)
  } finally {
    await undo()
  }
  context.metrics.mark('healed')
}

/**
 * The rule of a primary out of service between the `fault` and `healed` marks: reads unaffected, writes fail fast
 * and typed from `noticeMs` after the fault until {@link graceMs} after it healed, and all succeed from then on.
 */
function primaryOutage(noticeMs: number): (report: ScenarioReport) => string[] {
  return (report) => {
    const healed = markOf(report, 'healed')
    return [
      ...noErrors(report, 'read'),
      ...noStaleReads(report),
      ...writesFailFast(report, { from: markOf(report, 'fault') + noticeMs, to: healed + graceMs }),
      ...writesRecovered(report, healed + graceMs),
    ]
  }
}

export const replicaKilled: Scenario = {
  name: 'replica-killed',
  summary: 'kill -9 replica-1 (postmaster and children) at 25 % of the run, restart it at 55 %',
  rule: '0 read errors, 0 write errors, 0 stale session reads',
  async inject(context) {
    const replica = clusterOf(context).node('replica-1')
    const { durationMs } = context
    await faultFor(
      context,
      { afterMs: durationMs * 0.25, holdMs: durationMs * 0.3 },
      () => replica.kill(),
      () => replica.start(),
    )
  },
  judge: unaffected,
}

export const replicaHung: Scenario = {
  name: 'replica-hung',
  summary: `SIGSTOP replica-1 and its children for ${hangMs / 1000} s, then SIGCONT`,
  rule: '0 read errors, 0 stale, no read waits out the hang (every read ≤ 3 s), 0 write errors',
  minDurationMs: hangMs + 6000,
  async inject(context) {
    const replica = clusterOf(context).node('replica-1')
    await faultFor(
      context,
      { afterMs: 3000, holdMs: hangMs },
      () => replica.hang(),
      () => replica.resume(),
    )
  },
  judge: (report) => [...unaffected(report), ...latencyBound(report, 'read', 3000)],
}

/**
 * PgBouncer (default `server_login_retry = 15`) refuses new server logins for 15 s after the last failed one: a
 * server back after 3 s is reached through it 12 s later, so writes cannot recover within the row's rule.
 */
const loginRetry =
  "PgBouncer's default server_login_retry (15 s) keeps refusing logins to the restarted primary for up to 15 s " +
  `(measured: 12 s after a 3 s outage), beyond the row's ${graceMs / 1000} s recovery rule`

export const primaryKilled: Scenario = {
  name: 'primary-killed',
  unsupportedVia: { 'pgbouncer-transaction': loginRetry, 'pgbouncer-session': loginRetry },
  summary: `kill -9 the primary at 25 % of the run, restart it ${primaryDownMs / 1000} s later`,
  rule: `0 read errors, 0 stale; writes fail within 1 s as PGROUTE_PRIMARY_UNAVAILABLE while it is down; all succeed ${graceMs / 1000} s after the restart`,
  async inject(context) {
    const primary = clusterOf(context).primary
    await faultFor(
      context,
      { afterMs: context.durationMs * 0.25, holdMs: primaryDownMs },
      () => primary.kill(),
      () => primary.start(),
    )
  },
  judge: primaryOutage(0),
}

export const primaryHung: Scenario = {
  name: 'primary-hung',
  summary: `SIGSTOP the primary and its children for ${hangMs / 1000} s (it accepts TCP, never answers), then SIGCONT`,
  rule: `0 read errors, 0 stale; from ${graceMs / 1000} s into the hang no write waits over 1 s, and writes fail only as PGROUTE_PRIMARY_UNAVAILABLE; all succeed ${graceMs / 1000} s after it resumed`,
  minDurationMs: hangMs + 3000 + 2 * graceMs,
  async inject(context) {
    const primary = clusterOf(context).primary
    await faultFor(
      context,
      { afterMs: 3000, holdMs: hangMs },
      () => primary.hang(),
      () => primary.resume(),
    )
  },
  // The first health interval after the hang cannot know yet: writes started in it may wait for the timeout.
  judge: primaryOutage(graceMs),
}

export const lagSpike: Scenario = {
  name: 'lag-spike',
  summary: `pauseReplay() on both replicas for ${lagMs / 1000} s (beyond the default 10 s lag bound) while writes go on, then resume`,
  rule: '0 read errors, 0 write errors, 0 stale session reads',
  minDurationMs: lagMs + 6000,
  async inject(context) {
    const replicas = clusterOf(context).replicas
    await faultFor(
      context,
      { afterMs: 3000, holdMs: lagMs },
      () => Promise.all(replicas.map((replica) => replica.pauseReplay())),
      () => Promise.all(replicas.map((replica) => replica.resumeReplay())),
    )
  },
  judge: unaffected,
}

export const slotsFull: Scenario = {
  name: 'slots-full',
  summary: 'hold every connection slot of replica-1 (new connections get 53300) for 40 % of the run',
  rule: '0 read errors, 0 write errors, 0 stale session reads',
  async inject(context) {
    const replica = clusterOf(context).node('replica-1')
    await context.wait(context.durationMs * 0.2)
    context.metrics.mark('fault')
    const held = await replica.occupyConnections()
    context.metrics.notes.push(`held ${held.count} connections of replica-1`)
    try {
      const until = performance.now() + context.durationMs * 0.4
      while (performance.now() < until) {
        await Promise.all([context.load.burst(burstSize), context.wait(500)])
      }
    } finally {
      await held.release()
    }
    context.metrics.mark('healed')
  },
  judge: unaffected,
}
