import type { ResolvedOptions } from '../config/resolved-options.js'
import { PgRouteError } from '../errors.js'
import { type Distance, isNear, NearestSelector, nearBound } from './nearest-selector.js'
import type { NodeSet } from './node-set.js'
import { createReplicaSelector, type ReplicaSelector } from './replica-selector.js'
import type { RouterNode } from './router-node.js'

/** The replicas a read must not go to again: those an earlier attempt of the same read already went to. */
export interface Exclusions {
  readonly tried: ReadonlySet<RouterNode> | undefined
  /** Adds `node` (if a replica) to {@link tried}. */
  exclude(node: RouterNode): void
}

/** The replicas one read has tried, so that a retry goes elsewhere. */
export class TriedReplicas implements Exclusions {
  /** Replicas tried so far; created at the first one (most reads never need it). */
  tried: Set<RouterNode> | undefined = undefined

  /** Adds `node` (if a replica) to {@link tried}. */
  exclude(node: RouterNode): void {
    // Only replicas: falling back to the primary stays possible on every attempt.
    if (node.role !== 'replica') return
    this.tried ??= new Set()
    this.tried.add(node)
  }
}

/**
 * The replicas of a router and the choice among them: which may take a read now, and which one does.
 * Candidate lists are rebuilt after a change of the nodes (their {@link NodeSet.version}) rather than filtered on
 * every read.
 */
export class ReplicaSet {
  readonly #nodes: NodeSet
  readonly #select: ReplicaSelector
  /** `balance: 'nearest'`, which also says why it chose (see {@link reason}). */
  readonly #nearest: NearestSelector | undefined
  readonly #zone: string | undefined
  readonly #fallback: ResolvedOptions['fallback']
  /** Every node that is a replica now (fenced ones included), as of {@link NodeSet.version} `#version`. */
  #all: readonly RouterNode[] = []
  /** Replicas whose state is `up`, rebuilt with {@link #all} rather than filtered on every read. */
  #usable: readonly RouterNode[] = []
  #version = -1

  constructor(nodes: NodeSet, options: ResolvedOptions) {
    this.#nodes = nodes
    this.#zone = options.zone
    const { balance } = options
    if (balance === 'nearest') {
      const nearest = new NearestSelector(options.zone)
      this.#nearest = nearest
      this.#select = (candidates) => nearest.choose(candidates, this.#nearestReachable())
    } else {
      this.#select = createReplicaSelector(balance)
    }
    this.#fallback = options.fallback
  }

  /** Whether the `balance` is `'nearest'` (reads chosen by distance; see {@link reason}). */
  get byDistance(): boolean {
    return this.#nearest !== undefined
  }

  /** The primary now (it changes after a failover). */
  get primary(): RouterNode {
    return this.#nodes.primary
  }

  /** Every node that is not the primary now. */
  get all(): readonly RouterNode[] {
    if (this.#version !== this.#nodes.version) this.#refresh()
    return this.#all
  }

  /** The newest timeline of the cluster (0 before any probe could tell). */
  get timeline(): number {
    return this.#nodes.timeline
  }

  /** Usable replicas the read has not tried yet. */
  candidates(read: Exclusions): readonly RouterNode[] {
    if (this.#version !== this.#nodes.version) this.#refresh()
    const { tried } = read
    return tried === undefined || tried.size === 0
      ? this.#usable
      : this.#usable.filter((node) => !tried.has(node))
  }

  /** Picks one of `candidates` by the `balance` option, or `undefined` when there are none. */
  choose(candidates: readonly RouterNode[]): RouterNode | undefined {
    return candidates.length > 0 ? this.#select(candidates) : undefined
  }

  /**
   * The node for a read that need not see any write: an eligible replica not tried yet (passing over replicas
   * cooling off after running out of connection slots), else the fallback. Throws `PGROUTE_NO_ELIGIBLE_NODE`
   * when there is none and `fallback` is `'error'`.
   */
  pick(read: Exclusions): RouterNode {
    const node = this.choose(this.candidates(read))
    if (node !== undefined && !node.cooling()) return node
    return this.#pickPast(read, node)
  }

  /** {@link pick} when the first choice is cooling off (or there was none): the others, else the fallback. */
  #pickPast(read: Exclusions, first: RouterNode | undefined): RouterNode {
    let node = first
    while (node?.cooling()) {
      read.exclude(node)
      node = this.choose(this.candidates(read))
    }
    if (node) return node
    if (this.#fallback === 'error' && this.all.length > 0) {
      throw new PgRouteError(
        'PGROUTE_NO_ELIGIBLE_NODE',
        `No replica can serve this read (${this.all.map((r) => `${r.name}: ${r.state}`).join(', ')}) and fallback is 'error'`,
      )
    }
    return this.readFallback()
  }

  /**
   * The primary, as the node of a read no replica may serve; never a fenced one (its data is not the cluster's:
   * an old primary on an older timeline while the new one cannot be reached). Throws `PGROUTE_NO_ELIGIBLE_NODE`.
   */
  readFallback(): RouterNode {
    const { primary } = this
    if (primary.state !== 'fenced') return primary
    throw new PgRouteError(
      'PGROUTE_NO_ELIGIBLE_NODE',
      `No node can serve this read: no replica is eligible and the primary ${primary.name} is fenced (${primary.reason})`,
    )
  }

  #refresh(): void {
    this.#version = this.#nodes.version
    this.#all = this.#nodes.all.filter((node) => node.role === 'replica')
    this.#usable = this.#all.filter((replica) => replica.usable)
  }

  /**
   * Why a read went to `node` (just chosen by {@link pick}), for `route` events and metrics: `read` (with
   * `balance: 'nearest'`, why that replica: `nearest`, `spill-over`, `far`), or for the primary `retry` /
   * `fallback`.
   */
  reason(node: RouterNode, read: Exclusions): string {
    if (node.role === 'replica') return this.#nearest?.choice ?? 'read'
    return read.tried !== undefined && read.tried.size > 0 ? 'retry' : 'fallback'
  }

  /**
   * How far `node` is from the router, as `balance: 'nearest'` ranks it now against the usable replicas: `near`
   * (the router's zone, or a round trip close to the nearest replica's), `far`, or `null` when neither zones nor
   * a measured round trip tell (whatever the `balance`, for `status()`).
   */
  distanceOf(node: RouterNode): Distance | null {
    if (this.#version !== this.#nodes.version) this.#refresh()
    const zoned = this.#zone !== undefined && node.zone !== undefined
    if (!zoned && node.rttMs === undefined) return null
    return isNear(node, this.#zone, nearBound(this.#nearestReachable())) ? 'near' : 'far'
  }

  /**
   * The shortest round trip of the replicas that answer their probes (up, or beyond the lag bounds): what "near"
   * is measured against, so that a read the nearest replica cannot take (lagging, not caught up with a session)
   * goes `far`, not `nearest`. Down, fenced and unprobed replicas' figures are stale or absent.
   */
  #nearestReachable(): number {
    if (this.#version !== this.#nodes.version) this.#refresh()
    let nearest = Number.POSITIVE_INFINITY
    for (const node of this.#all) {
      const { rttMs, state } = node
      if ((state === 'up' || state === 'lagging') && rttMs !== undefined && rttMs < nearest) nearest = rttMs
    }
    return nearest
  }
}
