import type { NodeSpec } from '../config/resolved-options.js'
import { type NodeOwner, type NodeState, RouterNode } from './router-node.js'

/** What a {@link NodeSet} reports: its nodes' state changes, and writes moving to another node. */
export interface NodeSetListener {
  /** `node` moved from `from` to its current state (its `reason` says why). */
  nodeStateChanged(node: RouterNode, from: NodeState, reason: string): void
  /** Writes go to `to` now, no longer to `from`. */
  primaryChanged(from: RouterNode, to: RouterNode, reason: string): void
  /**
   * `node`'s role changed, or it was fenced or unfenced: leases granted on it before are stale. Told as it happens,
   * before the node is stamped with the new epoch.
   */
  roleChanged(node: RouterNode): void
}

/**
 * Every node of a router, which one is the primary now, and the topology epoch. The configuration gives the first
 * guess of the primary; the health monitor moves it when the probes show another node leading the newest
 * timeline, and nodes join and leave at runtime ({@link add}, {@link remove}).
 *
 * The set owns roles: every role change (an election, a primary found back in recovery) and every fencing (in
 * either direction) bumps the topology {@link epoch} and stamps the node with it (`RouterNode.roleEpoch`), so
 * that a connection leased earlier can tell, with one comparison, that its node is no longer what it was when it
 * was leased (`leaseIsCurrent` in `lease.ts`). Adding or removing a node bumps the epoch too.
 */
export class NodeSet implements NodeOwner {
  #nodes: readonly RouterNode[]
  #primary: RouterNode
  #epoch = 0
  #version = 0
  #timeline = 0
  #systemId: string | undefined
  readonly #listener: NodeSetListener
  /** Writers waiting for a primary that may take writes (`failover.waitMs`). */
  readonly #waiters = new Set<() => void>()

  /** Makes one node per spec; the spec with `role: 'primary'` is the first guess of the primary. */
  constructor(specs: readonly NodeSpec[], listener: NodeSetListener) {
    this.#listener = listener
    this.#nodes = specs.map((spec) => new RouterNode(spec, this))
    this.#primary = this.#nodes.find((node) => node.role === 'primary') ?? this.#nodes[0]!
  }

  /** Every node, the primary included, in the order they were configured or added. */
  get all(): readonly RouterNode[] {
    return this.#nodes
  }

  /** The node writes go to (the last one elected, even while it is down). */
  get primary(): RouterNode {
    return this.#primary
  }

  /** The topology epoch: bumped by every role change, fencing, addition and removal of a node. */
  get epoch(): number {
    return this.#epoch
  }

  /** Bumped by every change of a node's state or role and of the members: what is derived from them is stale. */
  get version(): number {
    return this.#version
  }

  /** The newest timeline seen in the cluster (0 before the first probe that could tell). */
  get timeline(): number {
    return this.#timeline
  }

  /** The cluster's system identifier, once learned. */
  get systemId(): string | undefined {
    return this.#systemId
  }

  /**
   * The primary when it may take writes now, else `undefined`: it is confirmed down (two failures in a row, the
   * last a probe's: a single slow probe on a loaded host proves nothing), it is fenced, or it was found in
   * recovery with no new primary yet. A primary not probed yet, or only suspected down (one failure; its re-probe
   * follows within a few hundred milliseconds), is given the benefit of the doubt: a connection that fails costs
   * the write nothing, as nothing was sent.
   */
  get writable(): RouterNode | undefined {
    const node = this.#primary
    if (node.role !== 'primary' || node.removed) return undefined
    const { state } = node
    const confirmedDown = state === 'down' && node.downBy === 'probe' && node.failures >= 2
    return state === 'up' || state === 'unknown' || (state === 'down' && !confirmedDown) ? node : undefined
  }

  /** The node named `name`, if any. */
  byName(name: string): RouterNode | undefined {
    return this.#nodes.find((node) => node.name === name)
  }

  /** What the probes have shown of the cluster: its system identifier and newest timeline. */
  learnIdentity(systemId: string | undefined, timeline: number): void {
    this.#systemId = systemId
    this.#timeline = timeline
  }

  /** Makes `node` the primary; every other node becomes a replica. */
  elect(node: RouterNode, reason: string): void {
    const from = this.#primary
    for (const other of this.#nodes) other.assignRole(other === node ? 'primary' : 'replica')
    this.#primary = node
    this.#changed()
    if (from !== node) this.#listener.primaryChanged(from, node, reason)
  }

  /** The primary was found back in recovery and no other node leads yet: it may serve reads, not writes. */
  demote(node: RouterNode): void {
    node.assignRole('replica')
    this.#changed()
  }

  /** Adds a node made from `spec` (it takes statements once a probe has judged it). */
  add(spec: NodeSpec): RouterNode {
    const node = new RouterNode(spec, this)
    this.#nodes = [...this.#nodes, node]
    this.#epoch++
    this.#changed()
    return node
  }

  /** Takes a node out: it gets no new statements; statements running on it finish. */
  remove(node: RouterNode): void {
    node.retire()
    this.#nodes = this.#nodes.filter((other) => other !== node)
    this.#epoch++
    this.#changed()
  }

  /**
   * Resolves to the primary once it may take writes, or to `undefined` after `waitMs` (or when `signal` aborts).
   * Resolves at once when it already may.
   */
  async waitForWritable(waitMs: number, signal?: AbortSignal): Promise<RouterNode | undefined> {
    const deadline = Date.now() + waitMs
    while (this.writable === undefined && !signal?.aborted) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) return undefined
      let wake: (() => void) | undefined
      const woken = new Promise<void>((resolve) => {
        wake = resolve
      })
      this.#waiters.add(wake!)
      const timer = setTimeout(wake!, remaining)
      timer.unref()
      signal?.addEventListener('abort', wake!, { once: true })
      await woken
      clearTimeout(timer)
      this.#waiters.delete(wake!)
      signal?.removeEventListener('abort', wake!)
    }
    return this.writable
  }

  /** @internal {@link NodeOwner}: a node of the set changed state. */
  nodeStateChanged(node: RouterNode, from: NodeState, reason: string): void {
    this.#changed()
    this.#listener.nodeStateChanged(node, from, reason)
  }

  /** @internal {@link NodeOwner}: a node's role changed, or it was fenced or unfenced. */
  nodeRoleChanged(node: RouterNode): number {
    this.#version++
    const epoch = ++this.#epoch
    this.#listener.roleChanged(node)
    return epoch
  }

  /** Derived views are stale now; writers waiting for a primary may go on. */
  #changed(): void {
    this.#version++
    if (this.#waiters.size === 0 || this.writable === undefined) return
    for (const wake of this.#waiters) wake()
    this.#waiters.clear()
  }
}
