import type { Logger } from '../config/logger.js'
import type { RouterNode } from '../replicas/router-node.js'
import {
  type ClusterReplacedEvent,
  isFallback,
  type NodeStateEvent,
  type PrimaryChangedEvent,
  type RerouteEvent,
  type WritesLostEvent,
} from './router-events.js'
import type { CheckoutTracer, IntegrityTracer, NodeTracer, RerouteTracer } from './router-tracer.js'

/**
 * The `logger` option, as a tracer of the router: node state changes, writes moving to another node, a cluster
 * replaced, writes lost in a failover, reads re-run elsewhere and reads that fell back to the primary, as log lines. Every text it logs is scrubbed of passwords.
 */
export class RouterLog implements NodeTracer, RerouteTracer, CheckoutTracer, IntegrityTracer {
  readonly #logger: Logger
  readonly #scrub: (text: string) => string

  constructor(logger: Logger, scrub: (text: string) => string) {
    this.#logger = logger
    this.#scrub = scrub
  }

  /** A node changed state. */
  traceNodeState(event: NodeStateEvent): void {
    const fields = { ...event, reason: this.#scrub(event.reason) }
    const message = `pgroute: ${event.role} ${event.node} is ${event.to} (was ${event.from}): ${fields.reason}`
    const log = this.#logger
    // Called as methods: pino's read their own `this`.
    if (event.to === 'down') log.error(fields, message)
    else if (event.to === 'up') log.info(fields, message)
    else log.warn(fields, message)
  }

  /** Writes go to another node now (a failover was followed). */
  tracePrimaryChange(event: PrimaryChangedEvent): void {
    const fields = { ...event, reason: this.#scrub(event.reason) }
    this.#logger.warn(fields, `pgroute: writes go to ${event.to} now (was ${event.from}): ${fields.reason}`)
  }

  /** The cluster behind the router's addresses was replaced, and adopted. */
  traceClusterReplaced(event: ClusterReplacedEvent): void {
    this.#logger.warn({ ...event }, `pgroute: ${event.reason}`)
  }

  /** A former primary acknowledged writes past the end of its timeline: they are not on the current one. */
  traceWritesLost(event: WritesLostEvent): void {
    this.#logger.error({ ...event }, `pgroute: writes lost on ${event.node}: ${event.reason}`)
  }

  /** A read was re-run on another node. */
  traceReroute(event: RerouteEvent): void {
    const { error } = event
    const fields = {
      from: event.from,
      reason: event.reason,
      statement: this.#scrub(event.statement),
      error: this.#scrub(error instanceof Error ? error.message : String(error)),
      code: (error as { code?: unknown } | null)?.code,
    }
    this.#logger.warn(fields, `pgroute: read re-run elsewhere after ${event.reason} on ${event.from}`)
  }

  /** Logs reads that went to the primary: no replica was eligible, or none had replayed the session's writes. */
  traceCheckout(node: RouterNode, reason: string): void {
    if (!isFallback(node.role, reason)) return
    const { name } = node
    this.#logger.debug({ node: name, reason }, `pgroute: read sent to the primary ${name} (${reason})`)
  }
}
