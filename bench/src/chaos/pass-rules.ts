/** Checks the scenarios' pass rules are built from; each returns the reasons a report fails it (empty: passes). */
import { type OpKind, writesLost } from './chaos-metrics.js'
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

/**
 * The sessions told of lost writes are exactly those whose writes were lost: every session whose acknowledged
 * write is missing on the primary at the end, and that made a call from `since` on, was told at its first such
 * call (`PgRouteError:PGROUTE_WRITES_LOST`); no session whose write survived was told. `wantLost`: how many lost
 * sessions must have been checked for the rule to mean anything. Adds a note with the tallies.
 */
export function toldExactlyTheLost(report: ScenarioReport, since: number, wantLost = 1): string[] {
  const { metrics, lostKeys } = report
  const untold = new Map<string, number>()
  let lost = 0
  let survived = 0
  let toldSurvived = 0
  let toldUnknown = 0
  for (const write of metrics.sessionWrites.values()) {
    const call = write.later.find((each) => each.at >= since)
    if (call === undefined) continue
    const told = call.outcome.startsWith(writesLost)
    const unknown = told && call.outcome !== writesLost
    if (unknown) toldUnknown++
    if (lostKeys.has(write.key)) {
      lost++
      if (!told) untold.set(call.outcome, (untold.get(call.outcome) ?? 0) + 1)
    } else {
      survived++
      // Told "perhaps lost" (outcome unknown) is honest for a write within a round trip of the switch point.
      if (told && !unknown) toldSurvived++
    }
  }
  const untoldCount = [...untold.values()].reduce((sum, n) => sum + n, 0)
  metrics.notes.push(
    `sessions with a call after the fault: ${lost} whose write was lost (${lost - untoldCount} told), ${survived} whose write survived (${toldSurvived} told it was lost); ${toldUnknown} told with outcome unknown`,
  )
  const reasons: string[] = []
  if (untoldCount > 0) {
    const how = [...untold].map(([outcome, n]) => `${outcome}×${n}`).join(', ')
    reasons.push(`${untoldCount} of ${lost} sessions whose write was lost were not told (${how})`)
  }
  if (toldSurvived > 0)
    reasons.push(`${toldSurvived} sessions were told of a loss though their write survived`)
  if (lost < wantLost) reasons.push(`only ${lost} sessions whose write was lost made a call after the fault`)
  return reasons
}
