import type { EventEmitter } from 'node:events'
import type { CoreHooks } from '../core/route-types.js'
import type { RouterEvents } from '../core/router-events.js'
import type { RouterLog } from '../observability/router-logger.js'
import type { RouterTelemetry } from '../observability/router-telemetry.js'
import type { PrimaryListener } from '../replicas/node-set.js'

/** Who hears the core: the router's events, and the logger and telemetry when configured. */
export interface HookTargets {
  readonly events: EventEmitter<RouterEvents>
  /** Whether `route` events are on (`routeEvents`). */
  readonly routeEvents: boolean
  readonly telemetry: RouterTelemetry | undefined
  readonly log: RouterLog | undefined
  /** Called on every state change before the event, with its reason. */
  readonly onState: (name: string, reason: string) => void
  /** Called when another node becomes the primary (the router follows it and emits `primary-changed`). */
  readonly onPrimaryChange: PrimaryListener
}

/** Reads that land on the primary for these reasons are fallbacks. */
function isFallback(role: string, reason: string): boolean {
  return role === 'primary' && (reason === 'fallback' || reason === 'read-your-writes')
}

/**
 * The core's hooks for a router. Per-statement hooks are installed only when something listens: a router with no
 * `route` events, logger or OpenTelemetry adds nothing to a statement's path.
 */
export function coreHooks(targets: HookTargets): CoreHooks {
  const { events, routeEvents, telemetry, log, onState, onPrimaryChange } = targets
  return {
    onPrimaryChange,
    onStateChange: (node, from, reason) => {
      onState(node.name, reason)
      const event = { node: node.name, role: node.role, from, to: node.state, reason }
      log?.stateChanged(event)
      events.emit('node-state', event)
    },
    onRoute:
      routeEvents || telemetry || log
        ? (node, reason) => {
            if (isFallback(node.role, reason)) {
              telemetry?.fellBack(node, reason)
              log?.fellBack(node.name, reason)
            }
            if (routeEvents) events.emit('route', { node: node.name, role: node.role, reason })
          }
        : undefined,
    onReroute: (event) => {
      telemetry?.rerouted(event)
      log?.rerouted(event)
      events.emit('reroute', event)
    },
    observe: telemetry && ((routed, routing) => telemetry.statement(routed, routing)),
    untraced: telemetry && ((fn) => telemetry.untraced(fn)),
  }
}
