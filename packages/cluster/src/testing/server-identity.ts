import type { Cluster } from '../cluster-node.js'

/**
 * Asks the server that runs it for its port, which names it: every node of a test cluster listens on a port of
 * its own (`startTestCluster` checks that for external clusters).
 */
export const WHO = 'SELECT inet_server_port() AS port'

/** The port of the server that answered {@link WHO} (or any query selecting `inet_server_port() AS port`). */
export function portOf(result: { readonly rows: ReadonlyArray<{ readonly port?: unknown }> }): number {
  return Number(result.rows[0]?.port)
}

/** Each node's port mapped to its name, to name the server that answered. */
export function portNames(cluster: Cluster): Map<number, string> {
  return new Map(cluster.nodes.map((node) => [node.port, node.name]))
}
