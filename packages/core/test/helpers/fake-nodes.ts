import type pg from 'pg'
import type { NodeSpec } from '../../src/config/resolved-options.js'
import { type NodeOwner, RouterNode, type RunningStatement } from '../../src/replicas/router-node.js'

/** The spec of a node that never connects (its pool is a placeholder). */
export function fakeSpec(name: string, role: 'primary' | 'replica' = 'replica', weight = 1): NodeSpec {
  return { name, role, weight, connection: {}, pool: {} as pg.Pool, ownsPool: false }
}

/** An owner that hears nothing, for nodes outside any NodeSet. */
const NO_OWNER: NodeOwner = { nodeStateChanged: () => {}, nodeRoleChanged: () => 0 }

/** `count` statements running on `node` (what `inFlight` counts), for balancing tests. */
export function occupy(node: RouterNode, count: number): void {
  for (let i = 0; i < count; i++) {
    const running: RunningStatement = {
      slot: -1,
      client: {} as pg.PoolClient,
      deadline: 0,
      body: false,
      lease: undefined,
    }
    node.began(running)
  }
}

/** A replica node for selector tests: up, never connects, in no NodeSet. */
export function fakeReplica(
  name: string,
  figures: { weight?: number; lagBytes?: number; lagSeconds?: number; inFlight?: number } = {},
): RouterNode {
  const node = new RouterNode(fakeSpec(name, 'replica', figures.weight ?? 1), NO_OWNER)
  node.setState('up', 'test')
  node.observe({
    timeline: undefined,
    lsn: undefined,
    lagBytes: figures.lagBytes ?? 0,
    lagSeconds: figures.lagSeconds ?? 0,
  })
  occupy(node, figures.inFlight ?? 0)
  return node
}

/** How many times each node was picked in `picks` calls. */
export function tally(pick: () => RouterNode | undefined, picks: number): Map<string, number> {
  const counts = new Map<string, number>()
  for (let i = 0; i < picks; i++) {
    const node = pick()
    const key = node?.name ?? '(none)'
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return counts
}
