import type { DemoApp } from './demo-options.js'
import { formatCount } from './live-table.js'

/** What a demo run did and found; `ok` is what the exit status reports. */
export interface DemoSummary {
  readonly app: DemoApp
  readonly users: number
  /** Seconds traffic actually ran. */
  readonly seconds: number
  /** HTTP requests of the workload. */
  readonly requests: number
  /**
   * Reads answered, by node name (`primary`, `replica-1`, ...). Reads of a post that was not found (404) carry no
   * server name and are counted under `post not found (server not reported)`.
   */
  readonly readsByNode: Readonly<Record<string, number>>
  /** Writes answered, by node name. */
  readonly writesByNode: Readonly<Record<string, number>>
  /** Median read time (request to answer) in ms, by node name; nodes that answered no read are absent. */
  readonly readMsByNode: Readonly<Record<string, number>>
  /** The replica put far away with `farReplica`, and its added round-trip time in ms. */
  readonly farReplica: { readonly name: string; readonly delayMs: number } | undefined
  /** Reads that had to show the reader's own earlier write. */
  readonly readAfterWriteChecks: number
  /** Of those, reads that did not. */
  readonly staleReads: number
  /** Reads without a token that did not find a post just created by someone else (lag, not an error). */
  readonly anonymousMisses: number
  /** Failed requests (no answer, 5xx or any unexpected status) and failed status polls. */
  readonly errors: number
  /** The first few failures and stale reads. */
  readonly problems: readonly string[]
  /** Whether authors sent their tokens back (`--no-tokens` turns it off). */
  readonly tokens: boolean
  /** Node stopped mid-run with `--kill-replica`. */
  readonly killedReplica: string | undefined
  /** Stopped early by its signal (Ctrl-C). */
  readonly interrupted: boolean
  /** No stale read, no error, not interrupted. */
  readonly ok: boolean
}

function byNode(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts)
  return entries.length === 0 ? 'none' : entries.map(([node, n]) => `${node} ${formatCount(n)}`).join(', ')
}

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0)
}

function readTimes(summary: DemoSummary): string {
  const entries = Object.entries(summary.readMsByNode)
  if (entries.length === 0) return 'none'
  const far = summary.farReplica
  return entries
    .map(
      ([node, ms]) => `${node} ${ms.toFixed(1)} ms${far?.name === node ? ` (+${far.delayMs} ms away)` : ''}`,
    )
    .join(', ')
}

/** The summary as printed at the end of a run. */
export function formatSummary(summary: DemoSummary): string {
  const rate = summary.seconds > 0 ? summary.requests / summary.seconds : 0
  const lines = [
    `Summary: ${summary.app} app, ${summary.users} virtual users, ${summary.seconds.toFixed(1)} s` +
      (summary.killedReplica ? `, ${summary.killedReplica} killed and restarted midway` : '') +
      (summary.tokens ? '' : ', tokens NOT sent back') +
      (summary.interrupted ? ' (interrupted)' : ''),
    `  requests                 ${formatCount(summary.requests)} (${rate.toFixed(0)}/s)`,
    `  reads per node           ${byNode(summary.readsByNode)}`,
    `  writes per node          ${byNode(summary.writesByNode)}`,
    `  read p50 per node        ${readTimes(summary)}`,
    `  read-after-write checks  ${formatCount(summary.readAfterWriteChecks)}`,
    `  stale reads found        ${formatCount(summary.staleReads)}`,
    `  errors                   ${formatCount(summary.errors)}`,
    `  tokenless reads that missed a just-created post: ${formatCount(summary.anonymousMisses)} ` +
      '(replication lag; the token is what prevents it)',
  ]
  for (const problem of summary.problems) lines.push(`    ${problem}`)
  const verdict = summary.ok
    ? 'OK: every read saw its own writes and no request failed'
    : summary.interrupted
      ? 'INTERRUPTED'
      : 'FAILED'
  lines.push(`  result                   ${verdict}`)
  if (total(summary.readsByNode) === 0) lines.push('  (no reads were answered)')
  return lines.join('\n')
}
