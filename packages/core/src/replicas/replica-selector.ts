import type { BalanceFunction, BalanceStrategy } from '../config/router-options.js'
import { ConfigError } from '../errors.js'
import type { RouterNode } from './router-node.js'

/** Picks one of the eligible replicas (never called with an empty list), or `undefined` for the fallback. */
export type ReplicaSelector = (candidates: readonly RouterNode[]) => RouterNode | undefined

/**
 * Smooth weighted round-robin (as in nginx): over any run of picks each replica gets its weight's share, spread
 * out rather than in bursts, and the candidate set may change between picks (replicas come and go).
 */
function roundRobin(): ReplicaSelector {
  // A Map, not a WeakMap: it is consulted on every read, and nodes live as long as the router.
  const current = new Map<RouterNode, number>()
  return (candidates) => {
    // One candidate would gain its weight and lose the same total: nothing changes.
    if (candidates.length === 1) return candidates[0]
    let total = 0
    let best: RouterNode | undefined
    let bestWeight = Number.NEGATIVE_INFINITY
    for (const node of candidates) {
      const weight = (current.get(node) ?? 0) + node.weight
      current.set(node, weight)
      total += node.weight
      if (weight > bestWeight) {
        best = node
        bestWeight = weight
      }
    }
    if (best) current.set(best, bestWeight - total)
    return best
  }
}

function random(): ReplicaSelector {
  return (candidates) => {
    let total = 0
    for (const node of candidates) total += node.weight
    let point = Math.random() * total
    for (const node of candidates) {
      point -= node.weight
      if (point < 0) return node
    }
    return candidates[candidates.length - 1]
  }
}

/** Minimum by `key`, ties broken by round-robin so equal replicas share the load. */
function minimumBy(key: (node: RouterNode) => number): ReplicaSelector {
  const tieBreak = roundRobin()
  return (candidates) => {
    let min = Number.POSITIVE_INFINITY
    let best: RouterNode | undefined
    let ties = 0
    for (const node of candidates) {
      const value = key(node)
      if (value < min) {
        min = value
        best = node
        ties = 1
      } else if (value === min) {
        ties++
      }
    }
    return ties <= 1 ? best : tieBreak(candidates.filter((node) => key(node) === min))
  }
}

function custom(pick: BalanceFunction): ReplicaSelector {
  return (candidates) => {
    const chosen = pick(candidates.map((node) => node.info))
    if (chosen === undefined) return undefined
    const node = candidates.find((candidate) => candidate.info === chosen || candidate.name === chosen?.name)
    if (!node)
      throw new ConfigError(
        'balance',
        'the balance function returned something that is not one of the candidates',
      )
    return node
  }
}

const STRATEGIES: Record<Exclude<BalanceStrategy, 'nearest'>, () => ReplicaSelector> = {
  'round-robin': roundRobin,
  random,
  // Bytes first (exact); seconds separate equal byte lags only coarsely, so they come second.
  'least-lag': () => minimumBy((node) => node.lagBytes * 1e6 + node.lagSeconds),
  'least-busy': () => minimumBy((node) => node.inFlight / node.weight),
}

/**
 * Builds the selector for the `balance` option, but `'nearest'`: the `ReplicaSet` makes that one itself
 * (`nearest-selector.ts`), as it also tells why it chose.
 */
export function createReplicaSelector(
  balance: Exclude<BalanceStrategy, 'nearest'> | BalanceFunction,
): ReplicaSelector {
  return typeof balance === 'function' ? custom(balance) : STRATEGIES[balance]()
}
