import type { Classification, ClassificationReason, RouteTarget } from '../classify/index.js'
import type { PrimaryListener } from '../replicas/node-set.js'
import type { RouterNode, StateListener } from '../replicas/router-node.js'
import type { RerouteEvent } from './router-events.js'
import type { Lease, Outcome } from './statement-runner.js'

/** Watches a statement through {@link RouterCore.route} (telemetry); must hand back its outcome or error. */
export type StatementObserver = <T>(routed: Promise<Outcome<T>>, routing: Routing) => Promise<Outcome<T>>

/** How the core reports to the router's events. */
export interface CoreHooks {
  readonly onStateChange: StateListener
  readonly onPrimaryChange: PrimaryListener
  readonly onRoute: ((node: RouterNode, reason: string) => void) | undefined
  readonly onReroute: (event: RerouteEvent) => void
  /** Set only when something observes statements: without it, `route` adds nothing to a statement's path. */
  readonly observe?: StatementObserver | undefined
  /** Runs the health monitor's work (probes, re-probes) with tracing suppressed. */
  readonly untraced?: (<T>(fn: () => T) => T) | undefined
}

/** Options of {@link RouterCore.route}. */
export interface RouteOptions {
  /** Keep the connection checked out and return it in the outcome, for a client to pin. */
  readonly keep?: boolean
  /** Run on this connection (a pinned client's, a transaction's) instead of choosing a node. */
  readonly lease?: Lease
  /** Run on the primary whatever the classification allows (`router.primary`). */
  readonly primary?: boolean
}

/** Where a statement goes and why: the classifier's decision, or the router's own (a refused write re-run). */
export interface Routing {
  readonly target: RouteTarget
  readonly reason: ClassificationReason | 'read-only-rejection'
  readonly transaction?: Classification['transaction']
}

/** A statement a replica refused as a write, run again on the primary. */
export const READ_ONLY_REJECTION: Routing = Object.freeze({
  target: 'primary',
  reason: 'read-only-rejection',
})
