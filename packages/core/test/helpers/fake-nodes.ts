import type pg from 'pg'
import type { NodeSpec } from '../../src/config/resolved-options.js'
import { type NodeOwner, RouterNode, type RunningStatement } from '../../src/replicas/router-node.js'

/** The spec of a node that never connects (its pool is a placeholder: of `max` connections, counting none). */
export function fakeSpec(
  name: string,
  role: 'primary' | 'replica' = 'replica',
  weight = 1,
  extra: { zone?: string; max?: number } = {},
): NodeSpec {
  const pool = (extra.max === undefined ? {} : { options: { max: extra.max } }) as pg.Pool
  return { name, role, weight, connection: {}, pool, ownsPool: false, zone: extra.zone }
}

/** An owner that hears nothing, for nodes outside any NodeSet. */
const NO_OWNER: NodeOwner = { nodeStateChanged: () => {}, nodeRoleChanged: () => 0 }

/** `count` statements running on `node` (what `inFlight` counts), for balancing tests; returned to end them. */
export function occupy(node: RouterNode, count: number): RunningStatement[] {
  const started: RunningStatement[] = []
  for (let i = 0; i < count; i++) {
    const running: RunningStatement = {
      slot: -1,
      client: {} as pg.PoolClient,
      deadline: 0,
      body: false,
      lease: undefined,
    }
    node.began(running)
    started.push(running)
  }
  return started
}

/** A replica node for selector tests: up, never connects, in no NodeSet. */
export function fakeReplica(
  name: string,
  figures: {
    weight?: number
    lagBytes?: number
    lagSeconds?: number
    inFlight?: number
    /** The node's zone. */
    zone?: string
    /** A first round-trip sample (as from a probe). */
    rttMs?: number
    /** Its pool's `max` (default 10). */
    max?: number
  } = {},
): RouterNode {
  const spec = fakeSpec(name, 'replica', figures.weight ?? 1, { zone: figures.zone, max: figures.max })
  const node = new RouterNode(spec, NO_OWNER)
  if (figures.rttMs !== undefined) node.observeRtt(figures.rttMs)
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
