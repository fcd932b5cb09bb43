/** Checks the scenarios' pass rules are built from; each returns the reasons a report fails it (empty: passes). */
import type { OpKind } from './chaos-metrics.js'
import type { ScenarioReport } from './scenario.js'

/** Code of the typed error a write gets while the primary is down. */
export const primaryUnavailable = 'PgRouteError:PGROUTE_PRIMARY_UNAVAILABLE'

/** No call of `kind` started at or after `since` failed. */
export function noErrors(report: ScenarioReport, kind: OpKind, since = 0): string[] {
  const failed = report.metrics.failures(kind, since)
  return failed.length === 0
    ? []
    : [`${failed.length} ${kind} errors${since > 0 ? ' after the grace time' : ''}`]
}

/** Every session read saw the session's own write. */
export function noStaleReads(report: ScenarioReport): string[] {
  const { staleReads, sessionReads } = report.metrics
  return staleReads === 0 ? [] : [`${staleReads} of ${sessionReads} session reads stale`]
}

/** 0 read errors, 0 write errors, 0 stale: the rule of faults a healthy node can absorb. */
export function unaffected(report: ScenarioReport): string[] {
  return [...noErrors(report, 'read'), ...noErrors(report, 'write'), ...noStaleReads(report)]
}

/** No successful call of `kind` took longer than `limitMs`, nor any failed one. */
export function latencyBound(report: ScenarioReport, kind: OpKind, limitMs: number): string[] {
  const slow = report.metrics.outcomes.filter((o) => o.kind === kind && o.endedAt - o.startedAt > limitMs)
  if (slow.length === 0) return []
  const worst = Math.max(...slow.map((o) => o.endedAt - o.startedAt))
  return [`${slow.length} ${kind}s took over ${limitMs} ms (max ${Math.round(worst)} ms)`]
}

/**
 * While the primary is known down (from `from` to `to`), no write waits more than `fastMs` of that time (a write
 * started earlier and still waiting counts too), and writes that fail there fail typed:
 * `PGROUTE_PRIMARY_UNAVAILABLE`.
 */
export function writesFailFast(
  report: ScenarioReport,
  window: { from: number; to: number },
  fastMs = 1000,
): string[] {
  const writes = report.metrics.outcomes.filter((o) => o.kind === 'write')
  const untyped = writes.filter(
    (o) => o.error && o.error !== primaryUnavailable && o.endedAt >= window.from && o.startedAt <= window.to,
  )
  const waited = (o: (typeof writes)[number]) =>
    Math.min(o.endedAt, window.to) - Math.max(o.startedAt, window.from)
  const slow = writes.filter((o) => waited(o) > fastMs)
  const reasons: string[] = []
  if (untyped.length > 0) reasons.push(`${untyped.length} failed writes not ${primaryUnavailable}`)
  if (slow.length > 0)
    reasons.push(`${slow.length} writes waited over ${fastMs} ms while the primary was down`)
  return reasons
}

/** Writes succeed again from `since` on: none failed, and some succeeded. */
export function writesRecovered(report: ScenarioReport, since: number): string[] {
  const after = report.metrics.outcomes.filter((o) => o.kind === 'write' && o.startedAt >= since)
  const failed = after.filter((o) => o.error).length
  if (after.length === 0) return ['no write ran after the grace time']
  return failed === 0 ? [] : [`${failed} of ${after.length} writes failed after the grace time`]
}

/** The `name` mark of the report (throws when the scenario never reached it). */
export function markOf(report: ScenarioReport, name: string): number {
  const at = report.metrics.marks.get(name)
  if (at === undefined) throw new Error(`the scenario never reached '${name}'`)
  return at
}
