/**
 * Scenarios of replication modes other than plain asynchronous streaming (#24): a synchronous `remote_apply` standby
 * promoted after the primary crashed, and a standby fed only from the WAL archive.
 */
import { chaosClusterOptions, embeddedEnvironment } from './chaos-environment.js'
import { clusterOf } from './fault-scenarios.js'
import { markOf, noErrors, noStaleReads, writesRecovered } from './pass-rules.js'
import type { Scenario, ScenarioReport } from './scenario.js'

const writeRecoveryMs = 3000
const spanningWanted = 200
/** How long the synchronous standby stalls before the primary crashes. */
const stallMs = 1000

export const syncFailover: Scenario = {
  name: 'sync-failover',
  summary:
    "replica-1 synchronous (FIRST 1, remote_apply), replica-2 not; at 35 % of the run the primary's WAL sender to replica-1 stalls (SIGSTOP) for 1 s, the primary is killed (kill -9), replica-1 promoted, replica-2 re-pointed (re-seeded if it got ahead)",
  rule: `0 lost writes (every acknowledged write is on the promoted standby); writes succeed on the new primary ${writeRecoveryMs / 1000} s after the promotion; 0 read errors; 0 stale over ≥ ${spanningWanted} token sessions spanning it`,
  minDurationMs: 15_000,
  environment: () =>
    embeddedEnvironment({
      ...chaosClusterOptions,
      replicaOptions: [{ synchronous: true }, {}],
      synchronousMethod: 'first',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
    }),
  async inject(context) {
    const cluster = clusterOf(context)
    const sync = (await cluster.status()).nodes.find((node) => node.syncState === 'sync')
    context.metrics.notes.push(`synchronous standby before the crash: ${sync?.name ?? 'none'}`)
    const standby = cluster.node('replica-1')
    await context.wait(context.durationMs * 0.35)
    const { rows } = await cluster.primary.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_replication WHERE application_name = 'replica-1'`,
    )
    const sender = rows[0]?.pid
    if (sender === undefined) throw new Error('replica-1 does not stream from the primary')
    context.metrics.mark('fault')
    // The primary's WAL sender to replica-1 stalls for a moment (SIGSTOP), then the primary crashes: a write
    // acknowledged in that moment exists on replica-1 only if the primary waited for it. Without the stall, an
    // asynchronous standby on loopback receives everything within a millisecond, and the check could not fail.
    process.kill(sender, 'SIGSTOP')
    await context.wait(stallMs)
    await cluster.primary.kill() // SIGKILL ends the stopped sender too
    await cluster.promote(standby, { follow: false })
    context.metrics.mark('healed')
    // replica-2, asynchronous, kept receiving WAL while the commits waited for replica-1: it may hold commits that
    // were never acknowledged and that the new primary does not have. Then it cannot follow the new timeline and is
    // re-seeded, as a failover tool would rewind it.
    const other = cluster.node('replica-2')
    try {
      await cluster.followPrimary(other, { timeoutMs: 5000 })
      context.metrics.notes.push('replica-2 followed the new primary')
    } catch {
      context.metrics.notes.push(
        'replica-2 was ahead of the promoted standby (unacknowledged commits): re-seeded',
      )
      context.metrics.mark('diverged')
      await cluster.rejoin(other)
    }
    context.metrics.mark('rejoined')
    const names = await cluster.primary.query<{ names: string }>(
      `SELECT current_setting('synchronous_standby_names') AS names`,
    )
    context.metrics.notes.push(`new primary replica-1 waits for: ${names.rows[0]?.names || 'nobody'}`)
  },
  judge(report) {
    const promoted = markOf(report, 'healed')
    const { spanningReads, marks } = report.metrics
    const diverged = marks.has('diverged') ? report.metrics.routedTo('replica-2', promoted) : 0
    const reseeded = marks.get('rejoined') ?? promoted
    const phantom = marks.has('diverged')
      ? report.metrics.routes.filter((r) => r.node === 'replica-2' && r.at >= promoted && r.at < reseeded)
          .length
      : 0
    report.metrics.notes.push(
      `statements routed to replica-2 after the promotion: ${diverged}, before it was re-seeded: ${phantom}`,
    )
    return [
      ...(phantom === 0
        ? []
        : [`${phantom} statements went to replica-2 while it held commits the new primary lacks`]),
      // Lost writes are checked for every scenario by the runner (acknowledged keys missing on the new primary).
      ...writesRecovered(report, promoted + writeRecoveryMs),
      ...noErrors(report, 'read'),
      ...noStaleReads(report),
      ...(spanningReads >= spanningWanted
        ? []
        : [`only ${spanningReads} token sessions spanned the failover (wanted ${spanningWanted})`]),
    ]
  },
}

const archiveMaxSeconds = 5
const pauseMs = 12_000
/** One health interval (1 s) plus probe and scheduling slack on a loaded machine. */
const graceMs = 3000

/** Statements routed to `node` between `from` and `to` (performance.now() times). */
function routedBetween(report: ScenarioReport, node: string, from: number, to: number): number {
  return report.metrics.routes.filter((route) => route.node === node && route.at >= from && route.at < to)
    .length
}

export const archiveStandby: Scenario = {
  name: 'archive-standby',
  summary: `replica-2 restores only from the WAL archive (archive_timeout 1 s); its replay is paused for ${pauseMs / 1000} s mid-run`,
  rule: `replica-2 serves reads and is never left out while within lag.maxSeconds ${archiveMaxSeconds}; gets no read from ${archiveMaxSeconds} s + ${graceMs / 1000} s into the pause until it resumes; serves reads again after; 0 errors; 0 stale`,
  minDurationMs: pauseMs + 12_000,
  routerOptions: { lag: { maxSeconds: archiveMaxSeconds } },
  async environment() {
    const env = await embeddedEnvironment({
      ...chaosClusterOptions,
      replicaOptions: [{}, { source: 'archive' }],
      archive: { timeout: '1s' },
    })
    const cluster = env.cluster!
    // The set-up (the load's table) must reach the archive-fed replica too before the load starts.
    return {
      ...env,
      settle: () => cluster.waitForReplication({ replicas: cluster.replicas, timeoutMs: 20_000 }),
    }
  },
  async inject(context) {
    const shipped = clusterOf(context).node('replica-2')
    await context.wait(Math.max(5000, (context.durationMs - pauseMs) * 0.4))
    context.metrics.mark('fault')
    await shipped.pauseReplay()
    try {
      await context.wait(pauseMs)
    } finally {
      await shipped.resumeReplay()
    }
    context.metrics.mark('healed')
  },
  judge(report) {
    const { metrics } = report
    const fault = markOf(report, 'fault')
    const healed = markOf(report, 'healed')
    const start = metrics.outcomes[0]?.startedAt ?? 0
    const leftOutWhileWithin = metrics.stateEvents.filter(
      (event) =>
        event.node === 'replica-2' &&
        event.to === 'lagging' &&
        event.at >= start + graceMs &&
        event.at < fault,
    )
    const before = routedBetween(report, 'replica-2', start, fault)
    const during = routedBetween(report, 'replica-2', fault + archiveMaxSeconds * 1000 + graceMs, healed)
    const after = routedBetween(report, 'replica-2', healed + graceMs, report.loadEndedAt)
    metrics.notes.push(
      `replica-2: ${before} statements before the pause, ${during} while beyond its bound, ${after} after it resumed; ` +
        `left out ${leftOutWhileWithin.length} times while within it` +
        (leftOutWhileWithin.length > 0 ? ` (first: ${leftOutWhileWithin[0]!.reason})` : ''),
    )
    return [
      ...(leftOutWhileWithin.length === 0
        ? []
        : [`replica-2 left out ${leftOutWhileWithin.length} times while within its lag bound`]),
      ...(before > 0 ? [] : ['replica-2 served no read before the pause']),
      ...(during === 0 ? [] : [`${during} statements went to replica-2 while it was beyond its lag bound`]),
      ...(after > 0 ? [] : ['replica-2 served no read after it resumed']),
      ...noErrors(report, 'read'),
      ...noErrors(report, 'write'),
      ...noStaleReads(report),
    ]
  },
}
