import type pg from 'pg'
import { RouterNode } from '../../src/replicas/router-node.js'

/** A replica node for selector tests: never connects (its pool is a placeholder), no state listener. */
export function fakeReplica(
  name: string,
  figures: { weight?: number; lagBytes?: number; lagSeconds?: number; inFlight?: number } = {},
): RouterNode {
  const node = new RouterNode(
    {
      name,
      role: 'replica',
      weight: figures.weight ?? 1,
      connection: {},
      pool: {} as pg.Pool,
      ownsPool: false,
    },
    () => {},
  )
  node.state = 'up'
  node.lagBytes = figures.lagBytes ?? 0
  node.lagSeconds = figures.lagSeconds ?? 0
  node.inFlight = figures.inFlight ?? 0
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
