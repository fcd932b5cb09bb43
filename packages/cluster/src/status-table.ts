import type { ClusterStatus, NodeStatus } from './cluster-node.js'

const columns: readonly [string, (node: NodeStatus) => string][] = [
  ['NODE', (node) => node.name],
  ['ROLE', (node) => node.role],
  ['ADDRESS', (node) => `${node.host}:${node.port}`],
  ['STATE', (node) => (!node.reachable ? 'down' : node.inRecovery ? 'recovery' : 'read-write')],
  ['CURRENT LSN', (node) => node.currentLsn ?? '-'],
  ['RECEIVE LSN', (node) => node.receiveLsn ?? '-'],
  ['REPLAY LSN', (node) => node.replayLsn ?? '-'],
  ['LAG BYTES', (node) => (node.lagBytes === undefined ? '-' : String(node.lagBytes))],
  ['LAG SECONDS', (node) => (node.lagSeconds === undefined ? '-' : node.lagSeconds.toFixed(3))],
  ['PAUSED', (node) => (node.replayPaused === undefined ? '-' : node.replayPaused ? 'yes' : 'no')],
]

/**
 * Renders a {@link ClusterStatus} as an aligned text table, followed by the reasons unreachable nodes gave. It holds
 * no URLs, so no password.
 */
export function formatStatus(status: ClusterStatus): string {
  const rows = [
    columns.map(([title]) => title),
    ...status.nodes.map((node) => columns.map(([, cell]) => cell(node))),
  ]
  const widths = columns.map((_, index) => Math.max(...rows.map((row) => row[index]!.length)))
  const lines = rows.map((row) =>
    row
      .map((cell, index) => cell.padEnd(widths[index]!))
      .join('  ')
      .trimEnd(),
  )
  for (const node of status.nodes) {
    if (node.error) lines.push(`${node.name}: ${node.error}`)
  }
  return lines.join('\n')
}
