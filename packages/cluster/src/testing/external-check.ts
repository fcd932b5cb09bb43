import { ClusterError } from '../cluster-error.js'
import type { Cluster, ClusterNode } from '../cluster-node.js'
import { createRedactor } from '../redact.js'
import { sleep } from '../sleep.js'

const source = 'the external cluster of PGROUTE_PRIMARY_URL / PGROUTE_REPLICA_URLS'

/**
 * Checks that every node of an external cluster answers within `timeoutMs` (retrying, since a cluster may still be
 * booting), that the primary is not in recovery and the replicas are, and that each node has a port of its own
 * (the suites name the server that answered by its port). Rejects with `PGROUTE_CLUSTER_UNREACHABLE` or
 * `PGROUTE_CLUSTER_INVALID_STATE`; messages name the node, its host and port, never the password.
 */
export async function checkExternalCluster(cluster: Cluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const ports = await Promise.all(cluster.nodes.map((node) => probe(node, deadline, timeoutMs)))
  const seen = new Map<number, string>()
  cluster.nodes.forEach((node, index) => {
    const port = ports[index]!
    const other = seen.get(port)
    if (other !== undefined) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `${node.name} and ${other} of ${source} both listen on port ${port}; the test suites tell servers apart ` +
          'by inet_server_port(), so give each node a port of its own',
        { node: node.name },
      )
    }
    seen.set(port, node.name)
  })
}

async function probe(node: ClusterNode, deadline: number, timeoutMs: number): Promise<number> {
  const mask = createRedactor(node.connectionConfig.password)
  for (;;) {
    let row: { standby: boolean; port: number } | undefined
    try {
      const result = await node.query<{ standby: boolean; port: number }>(
        'SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port',
      )
      row = result.rows[0]
    } catch (error) {
      if (Date.now() >= deadline) {
        const reason = mask(error instanceof Error ? error.message : String(error))
        throw new ClusterError(
          'PGROUTE_CLUSTER_UNREACHABLE',
          `${node.name} (${node.host}:${node.port}) of ${source} did not answer within ${timeoutMs} ms: ${reason}. ` +
            'With these variables set the suites never fall back to a local cluster.',
          { node: node.name, cause: error },
        )
      }
      await sleep(Math.min(500, deadline - Date.now()))
      continue
    }
    const expected = node.role !== 'primary'
    if (row?.standby !== expected) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `${node.name} (${node.host}:${node.port}) of ${source} is ${row?.standby ? 'in recovery' : 'not in recovery'}; ` +
          `expected ${expected ? 'a hot standby' : 'a primary'}`,
        { node: node.name },
      )
    }
    return Number(row.port)
  }
}
