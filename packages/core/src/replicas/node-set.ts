import type { RouterNode } from './router-node.js'

/** Called when writes move to another node. */
export type PrimaryListener = (from: RouterNode, to: RouterNode, reason: string) => void

/**
 * Every node of a router and which one is the primary now. The configuration gives the first guess; the health
 * monitor moves the primary when the probes show another node leading the newest timeline, and nodes join and
 * leave at runtime ({@link add}, {@link remove}).
 */
export class NodeSet {
  #nodes: readonly RouterNode[]
  #primary: RouterNode
  /** The newest timeline seen in the cluster (0 before the first probe that could tell). */
  timeline = 0
  /** The cluster's system identifier, once learned. */
  systemId: string | undefined
  readonly #onPrimaryChange: PrimaryListener
  readonly #onChange: () => void
  /** Writers waiting for a primary that may take writes (`failover.waitMs`). */
  readonly #waiters = new Set<() => void>()

  constructor(nodes: readonly RouterNode[], onPrimaryChange: PrimaryListener, onChange: () => void) {
    this.#nodes = nodes
    this.#primary = nodes.find((node) => node.role === 'primary') ?? nodes[0]!
    this.#onPrimaryChange = onPrimaryChange
    this.#onChange = onChange
  }

  /** Every node, the primary included, in the order they were configured or added. */
  get all(): readonly RouterNode[] {
    return this.#nodes
  }

  /** The node writes go to (the last one elected, even while it is down). */
  get primary(): RouterNode {
    return this.#primary
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

  /** Makes `node` the primary; every other node becomes a replica. */
  elect(node: RouterNode, reason: string): void {
    const from = this.#primary
    for (const other of this.#nodes) other.role = other === node ? 'primary' : 'replica'
    this.#primary = node
    this.changed()
    if (from !== node) this.#onPrimaryChange(from, node, reason)
  }

  /** Call after any change of a node's state or role: rebuilds the read candidates, wakes waiting writers. */
  changed(): void {
    this.#onChange()
    if (this.#waiters.size === 0 || this.writable === undefined) return
    for (const wake of this.#waiters) wake()
    this.#waiters.clear()
  }

  /** Adds a node (it takes statements once a probe has judged it). */
  add(node: RouterNode): void {
    this.#nodes = [...this.#nodes, node]
    this.changed()
  }

  /** Takes a node out: it gets no new statements; statements running on it finish. */
  remove(node: RouterNode): void {
    node.removed = true
    this.#nodes = this.#nodes.filter((other) => other !== node)
    this.changed()
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
}
