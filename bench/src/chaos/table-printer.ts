/** Prints scenario results as one Markdown table (pasteable into a README) plus each row's reasons and notes. */
import type { ScenarioResult } from './scenario-runner.js'

const columns = [
  'scenario',
  'requests',
  'read err',
  'write err',
  'errors seen by callers (kind class:code×n)',
  'stale',
  'p99 ms',
  'max ms',
  'write p99/max ms',
  'recover ms',
  'left srv/sock',
  'lost',
  'result',
] as const

/** One table row of `result`. */
function row(result: ScenarioResult): string[] {
  const { scenario, report, skipped, failures } = result
  const verdict = skipped ? 'SKIP' : failures.length === 0 ? 'PASS' : 'FAIL'
  if (!report) return [scenario.name, ...Array<string>(columns.length - 2).fill('–'), verdict]
  const { metrics } = report
  const recovery = metrics.recoveryMs(report.loadEndedAt)
  return [
    scenario.name,
    String(metrics.outcomes.length),
    String(metrics.failures('read').length),
    String(metrics.failures('write').length),
    metrics.errorSummary(3) || '–',
    `${metrics.staleReads}/${metrics.sessionReads}`,
    String(Math.round(metrics.latency(0.99))),
    String(Math.round(metrics.latency(1))),
    `${Math.round(metrics.latencyOf('write', 0.99))}/${Math.round(metrics.latencyOf('write', 1))}`,
    recovery === undefined ? 'never' : String(Math.round(recovery)),
    `${report.serverConnections}/${report.clientSockets}`,
    String(report.lostWrites),
    verdict,
  ]
}

/** The Markdown table of every result. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = [columns.slice(), ...results.map(row)]
  const widths = columns.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`
  return [line(rows[0]!), line(widths.map((width) => '-'.repeat(width))), ...rows.slice(1).map(line)].join(
    '\n',
  )
}

/** Per scenario: its rule, why it failed or was skipped, and its notes (hostile tallies, spanning sessions). */
export function formatDetails(results: readonly ScenarioResult[]): string {
  const lines: string[] = []
  for (const { scenario, report, failures, skipped } of results) {
    lines.push(`- ${scenario.name} — rule: ${scenario.rule}`)
    if (skipped) lines.push(`  - skipped: ${skipped}`)
    for (const failure of failures) lines.push(`  - FAIL: ${failure}`)
    if (!report) continue
    const { metrics } = report
    if (metrics.errorSummary() !== metrics.errorSummary(3))
      lines.push(`  - errors: ${metrics.errorSummary()}`)
    if (metrics.spanningReads > 0)
      lines.push(`  - token sessions spanning the fault: ${metrics.spanningReads}`)
    if (report.endMs !== undefined)
      lines.push(`  - router.end() after the load: ${Math.round(report.endMs)} ms`)
    if (metrics.downEvents.length > 0) {
      const nodes = [...new Set(metrics.downEvents.map((event) => event.node))].join(', ')
      lines.push(`  - node-down events: ${metrics.downEvents.length} (${nodes})`)
    }
    for (const note of metrics.notes) lines.push(`  - ${note}`)
    for (const [what, count] of metrics.hostile) lines.push(`  - hostile: ${what} ×${count}`)
  }
  return lines.join('\n')
}
