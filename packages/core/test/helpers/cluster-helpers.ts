import type { Cluster } from '@pgroute/cluster'
import { routerOptions, waitFor } from '@pgroute/cluster/testing'
import type { NodeState, Router, RouterOptions } from '../../src/index.js'
import { createRouter } from '../../src/index.js'

export { FAST_HEALTH, portNames, portOf, WHO, waitFor } from '@pgroute/cluster/testing'

/** A router over every node of `cluster`, replicas named after the cluster's nodes, probing fast. */
export function routerFor(cluster: Cluster, options: Partial<RouterOptions> = {}): Router {
  return createRouter(routerOptions(cluster, options))
}

/** The error `call` rejects with; throws when it resolves. */
export async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call
  } catch (error) {
    return error
  }
  throw new Error('expected the call to fail')
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
