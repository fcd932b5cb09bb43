import type { Cluster, ClusterNode } from '@pgroute/cluster'
import type { NodeState, Router, RouterOptions } from '../../src/index.js'
import { createRouter } from '../../src/index.js'

/** Probe often so state changes show up within a fraction of a second. */
export const FAST_HEALTH = { intervalMs: 200, timeoutMs: 150, maxBackoffMs: 500 } as const

/** A router over every node of `cluster`, replicas named after the cluster's nodes, probing fast. */
export function routerFor(cluster: Cluster, options: Partial<RouterOptions> = {}): Router {
  return createRouter({
    primary: cluster.primary.url,
    replicas: cluster.replicas.map((replica) => ({ name: replica.name, connectionString: replica.url })),
    healthCheck: FAST_HEALTH,
    ...options,
  })
}

/** The port of the server that answered `SELECT inet_server_port() AS port`. */
export function portOf(result: { rows: Array<{ port?: unknown }> }): number {
  return Number(result.rows[0]?.port)
}

export const WHO = 'SELECT inet_server_port() AS port'

/** Polls `check` every 20 ms until it returns true, failing with `message` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms: ${message}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The state `router` has for the node named `name`. */
export function stateOf(router: Router, name: string): NodeState | undefined {
  return router.status().find((row) => row.name === name)?.state
}

/** Waits until `router` reports `name` in `state`. */
export function waitForState(
  router: Router,
  name: string,
  state: NodeState,
  timeoutMs = 10_000,
): Promise<void> {
  return waitFor(
    () => stateOf(router, name) === state,
    timeoutMs,
    `${name} to be ${state} (is ${stateOf(router, name)})`,
  )
}

/**
 * Keeps committing small transactions on the primary (so WAL keeps flowing and replay timestamps keep moving)
 * until the returned function is called.
 */
export function keepWriting(cluster: Cluster, everyMs = 20): () => Promise<void> {
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      await cluster.primary.query('INSERT INTO heartbeat (at) VALUES (now())')
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return async () => {
    stopped = true
    await loop
  }
}

/** Creates the `heartbeat` table used by {@link keepWriting} and waits until undelayed replicas have it. */
export async function createHeartbeat(cluster: Cluster): Promise<void> {
  await cluster.primary.query(
    'CREATE TABLE IF NOT EXISTS heartbeat (id bigserial PRIMARY KEY, at timestamptz)',
  )
}

/** Maps each node's port to its name, to name the server that answered. */
export function portNames(cluster: Cluster): Map<number, string> {
  return new Map<number, string>(cluster.nodes.map((node: ClusterNode) => [node.port, node.name]))
}
