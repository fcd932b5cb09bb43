/** What a scenario left behind once `router.end()` resolved: server-side connections and client sockets. */
import net from 'node:net'
import type { ChaosNode } from './chaos-environment.js'

// Patroni's own connections to the server it manages (application_name 'Patroni ...') are not the router's.
const countSql = `SELECT count(*)::int AS n FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
    AND application_name NOT LIKE 'Patroni%'`

/**
 * Client connections still open on the running servers (a backend exits a moment after its client closed the
 * socket, so each count is polled for up to `settleMs` until it reaches 0). Unreachable servers count 0.
 */
export async function serverConnections(nodes: readonly ChaosNode[], settleMs = 3000): Promise<number> {
  const counts = await Promise.all(
    nodes
      .filter((node) => node.running)
      .map(async (node) => {
        const deadline = performance.now() + settleMs
        for (;;) {
          const n = await node
            .query<{ n: number }>(countSql)
            .then((result) => result.rows[0]!.n)
            .catch(() => 0)
          if (n === 0 || performance.now() > deadline) return n
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }),
  )
  return counts.reduce((sum, n) => sum + n, 0)
}

/** Open TCP sockets of this process to any of `ports` (loopback servers). */
export function clientSockets(ports: ReadonlySet<number>): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
  return handles.filter(
    (handle) =>
      handle instanceof net.Socket &&
      !handle.destroyed &&
      handle.remotePort !== undefined &&
      ports.has(handle.remotePort),
  ).length
}
