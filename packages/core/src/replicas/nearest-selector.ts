import type { DistanceChoice } from './distance-choice.js'
import type { RouterNode } from './router-node.js'

/** How far a node is from the router, as `balance: 'nearest'` ranks it. */
export type Distance = 'near' | 'far'

/** Round trips within this many milliseconds of the nearest count as near, however small the nearest is. */
const NEAR_SLACK_MS = 0.5
/** …or within this share of the nearest round trip, when that is more. */
const NEAR_SLACK_RATIO = 0.5

/**
 * The longest round trip that still counts as near, given the nearest one (`Infinity`: none measured). Two
 * replicas of one zone (0.3 and 0.4 ms) share the near tier; one 2 ms away from a 0.3 ms one does not.
 */
export function nearBound(nearestMs: number): number {
  return nearestMs + Math.max(NEAR_SLACK_MS, NEAR_SLACK_RATIO * nearestMs)
}

/** The shortest round trip among `nodes` (`Infinity` when none is measured yet). */
export function nearestRtt(nodes: readonly RouterNode[]): number {
  let nearest = Number.POSITIVE_INFINITY
  for (const node of nodes) {
    const rtt = node.rttMs
    if (rtt !== undefined && rtt < nearest) nearest = rtt
  }
  return nearest
}

/**
 * Whether `node` is near a router in `zone`: by zone when both have one (the same zone is near, another far,
 * whatever the round trips say), else by round trip (within `bound`, see {@link nearBound}). A node with neither
 * is far.
 */
export function isNear(node: RouterNode, zone: string | undefined, bound: number): boolean {
  if (zone !== undefined && node.zone !== undefined) return node.zone === zone
  const rtt = node.rttMs
  return rtt !== undefined && rtt <= bound
}

/**
 * The share of its pool a node has taken, by weight: what "least busy" compares. A heavier replica (weight 2)
 * counts as half as busy with the same connections taken.
 */
function loadOf(node: RouterNode): number {
  return node.busy / (node.poolMax * node.weight)
}

/** Whether `node` (with `load`) is a better pick than `best` (with `bestLoad`): less busy, else chosen longer ago. */
function better(node: RouterNode, load: number, best: RouterNode | undefined, bestLoad: number): boolean {
  return best === undefined || load < bestLoad || (load === bestLoad && node.pickedAt < best.pickedAt)
}

/**
 * `balance: 'nearest'`: near replicas first, the least busy of them; farther ones only while every near one is
 * saturated (all its pool's connections taken: its next checkout would queue), the nearest of them first; when
 * every replica is saturated, the least busy near one (queueing near is no slower than queueing far, and the far
 * ones take reads again as soon as a connection of theirs frees). Equally busy replicas take turns.
 *
 * Near is the router's zone when zones are given, else a round trip close to the nearest one's ({@link nearBound});
 * the far ones are ranked by round trip too, those close to the nearest free far one sharing the load. The
 * candidates are whatever the caller gives: eligible replicas (up, within the lag bounds), or for read-your-writes
 * those that have replayed the session's position. Two passes over the candidates, no allocation.
 */
export class NearestSelector {
  readonly #zone: string | undefined
  /** Choices so far: each chosen node is stamped with it, so that ties go to the one chosen longest ago. */
  #turn = 0
  /** Why the last choice went where it did. */
  #choice: DistanceChoice = 'nearest'

  constructor(zone: string | undefined) {
    this.#zone = zone
  }

  /** Why the last {@link choose} chose what it did. */
  get choice(): DistanceChoice {
    return this.#choice
  }

  /**
   * Chooses one of `candidates` (`undefined` only for none). Round trips are near within {@link nearBound} of
   * `nearestMs`: the nearest replica's that could take reads now (a replica behind the lag bounds or not caught up
   * with a session stays the reference, so a read it cannot take goes `far`); by default the nearest candidate's.
   */
  choose(candidates: readonly RouterNode[], nearestMs = nearestRtt(candidates)): RouterNode | undefined {
    const zone = this.#zone
    const bound = nearBound(nearestMs)
    let near: RouterNode | undefined
    let nearLoad = 0
    let queue: RouterNode | undefined
    let queueLoad = 0
    let anyNear = false
    let farFree = false
    let farNearest = Number.POSITIVE_INFINITY
    for (const node of candidates) {
      const load = loadOf(node)
      if (isNear(node, zone, bound)) {
        anyNear = true
        if (!node.saturated) {
          if (better(node, load, near, nearLoad)) {
            near = node
            nearLoad = load
          }
        } else if (better(node, load, queue, queueLoad)) {
          queue = node
          queueLoad = load
        }
      } else if (!node.saturated) {
        farFree = true
        const rtt = node.rttMs ?? Number.POSITIVE_INFINITY
        if (rtt < farNearest) farNearest = rtt
      }
    }
    if (near !== undefined) return this.#chose(near, 'nearest')
    if (farFree) {
      // The free far ones about as near as the nearest of them share the load.
      const farBound = nearBound(farNearest)
      let far: RouterNode | undefined
      let farLoad = 0
      for (const node of candidates) {
        if (
          node.saturated ||
          isNear(node, zone, bound) ||
          (node.rttMs ?? Number.POSITIVE_INFINITY) > farBound
        )
          continue
        const load = loadOf(node)
        if (better(node, load, far, farLoad)) {
          far = node
          farLoad = load
        }
      }
      if (far !== undefined) return this.#chose(far, anyNear ? 'spill-over' : 'far')
    }
    if (queue !== undefined) return this.#chose(queue, 'nearest')
    // Every candidate is far and saturated: the least busy one.
    let leastBusy: RouterNode | undefined
    let least = 0
    for (const node of candidates) {
      const load = loadOf(node)
      if (better(node, load, leastBusy, least)) {
        leastBusy = node
        least = load
      }
    }
    return leastBusy === undefined ? undefined : this.#chose(leastBusy, 'far')
  }

  #chose(node: RouterNode, choice: DistanceChoice): RouterNode {
    node.picked(++this.#turn)
    this.#choice = choice
    return node
  }
}
