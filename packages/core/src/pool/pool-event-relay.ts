import type { EventEmitter } from 'node:events'
import type { NodeWatcher, RouterCore } from '../core/router-core.js'
import type { RouterNode } from '../replicas/router-node.js'

// biome-ignore lint/suspicious/noExplicitAny: pg-pool's listeners take different arguments per event.
type Listener = (...args: any[]) => void

/**
 * Passes pg-pool's events (`connect`, `acquire`, `release`, `remove`, `error`) on from the pools of the router's
 * nodes (nodes added later included) to `target`, with pg-pool's arguments and the node's name last. An event is
 * relayed from the first time someone listens to it on `target`: until then, the nodes' pools carry no forwarder.
 */
export class PoolEventRelay implements NodeWatcher {
  readonly #core: RouterCore
  readonly #target: EventEmitter
  /** Only the current primary's events (`router.primary`). */
  readonly #primaryOnly: boolean
  /** The events relayed, each with its forwarder on every node's pool. */
  readonly #relayed = new Map<string, Map<RouterNode, Listener>>()

  constructor(core: RouterCore, target: EventEmitter, primaryOnly: boolean) {
    this.#core = core
    this.#target = target
    this.#primaryOnly = primaryOnly
  }

  /** Passes `event` on from now on (once relayed, it stays relayed). */
  relay(event: string): void {
    if (this.#relayed.has(event)) return
    this.#relayed.set(event, new Map())
    if (this.#relayed.size === 1) this.#core.watchNodes(this)
    else for (const node of this.#core.nodes.all) this.#forward(event, node)
  }

  /** @internal {@link NodeWatcher}: a node joined (or was there when the relay started). */
  nodeAdded(node: RouterNode): void {
    for (const event of this.#relayed.keys()) this.#forward(event, node)
  }

  /** @internal {@link NodeWatcher}: a node left; its pool, which may outlive the router, keeps no forwarder. */
  nodeRemoved(node: RouterNode): void {
    for (const [event, forwarders] of this.#relayed) {
      const forward = forwarders.get(node)
      forwarders.delete(node)
      if (forward) node.pool.off(event as 'connect', forward)
    }
  }

  #forward(event: string, node: RouterNode): void {
    const forwarders = this.#relayed.get(event)!
    if (forwarders.has(node)) return
    const target = this.#target
    const forward: Listener = (...args) => {
      if (this.#primaryOnly && node !== this.#core.primary) return
      // An `error` nobody listens to (any more) stays the node pool's: the router handles it there.
      if (event === 'error' && target.listenerCount('error') === 0) return
      target.emit(event, ...args, node.name)
    }
    forwarders.set(node, forward)
    node.pool.on(event as 'connect', forward)
  }
}
