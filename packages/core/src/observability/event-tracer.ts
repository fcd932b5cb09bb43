import type { EventEmitter } from 'node:events'
import type { RouterNode } from '../replicas/router-node.js'
import type {
  ClusterReplacedEvent,
  NodeStateEvent,
  PrimaryChangedEvent,
  RerouteEvent,
  RouterEvents,
  WritesLostEvent,
} from './router-events.js'
import type { CheckoutTracer, IntegrityTracer, NodeTracer, RerouteTracer } from './router-tracer.js'

/**
 * The router's events (`node-state`, `primary-changed`, `cluster-replaced`, `writes-lost`, `reroute`), as a tracer
 * emitting them on `emitter`.
 */
export class EventTracer implements NodeTracer, RerouteTracer, IntegrityTracer {
  readonly #emitter: EventEmitter<RouterEvents>

  constructor(emitter: EventEmitter<RouterEvents>) {
    this.#emitter = emitter
  }

  traceNodeState(event: NodeStateEvent): void {
    this.#emitter.emit('node-state', event)
  }

  tracePrimaryChange(event: PrimaryChangedEvent): void {
    this.#emitter.emit('primary-changed', event)
  }

  traceClusterReplaced(event: ClusterReplacedEvent): void {
    this.#emitter.emit('cluster-replaced', event)
  }

  traceWritesLost(event: WritesLostEvent): void {
    this.#emitter.emit('writes-lost', event)
  }

  traceReroute(event: RerouteEvent): void {
    this.#emitter.emit('reroute', event)
  }
}

/** The opt-in `route` events (`routeEvents: true`): where each statement or client went, and why. */
export class RouteEventTracer implements CheckoutTracer {
  readonly #emitter: EventEmitter<RouterEvents>

  constructor(emitter: EventEmitter<RouterEvents>) {
    this.#emitter = emitter
  }

  traceCheckout(node: RouterNode, reason: string): void {
    this.#emitter.emit('route', { node: node.name, role: node.role, reason })
  }
}
