import type { RouterNode } from '../replicas/router-node.js'
import type {
  ClusterReplacedEvent,
  NodeStateEvent,
  PrimaryChangedEvent,
  RerouteEvent,
  WritesLostEvent,
} from './router-events.js'

/**
 * Traces the statements the router routes: each is started in the caller's context (so the caller's active span
 * can be taken then) and ended once it has settled. A connection pinned without a statement is no statement.
 */
export interface StatementTracer {
  /** A statement routed for `reason` starts. What this returns is handed back to {@link traceStatementEnd}. */
  traceStatementStart(reason: string): unknown
  /** The statement ended: on `node` (`undefined` when none ran it), with `error` when it failed. */
  traceStatementEnd(started: unknown, node: RouterNode | undefined, reason: string, error: unknown): void
}

/** Traces checkouts: each connection taken from a node's pool for a statement or a client, and why it went there. */
export interface CheckoutTracer {
  traceCheckout(node: RouterNode, reason: string): void
}

/** Traces reads run again elsewhere: retried after a failure, or refused as a write by a replica. */
export interface RerouteTracer {
  traceReroute(event: RerouteEvent): void
}

/** Traces the nodes: every state change, and writes moving to another node. */
export interface NodeTracer {
  traceNodeState(event: NodeStateEvent): void
  tracePrimaryChange(event: PrimaryChangedEvent): void
}

/**
 * Traces what the router detects about the cluster's history: a cluster replaced behind its addresses, writes a
 * former primary acknowledged past the end of its timeline.
 */
export interface IntegrityTracer {
  traceClusterReplaced(event: ClusterReplacedEvent): void
  traceWritesLost(event: WritesLostEvent): void
}

/** Runs the router's own background work (health probes, re-probes) outside the caller's trace. */
export interface BackgroundTracer {
  traceBackground<T>(work: () => T): T
}

/** Releases what a tracer holds (metric callbacks) when the router ends. */
export interface ClosingTracer {
  close(): void
}

/**
 * The router's one tracer: any of the concerns above, each found by the presence of its methods and absent when
 * no part of the router's observation wants it, so that an unobserved router adds nothing to a statement's path.
 * The router combines its own observers into one ({@link combineTracers}): its events, the `logger` option, and
 * OpenTelemetry.
 */
export type RouterTracer = Partial<
  StatementTracer &
    CheckoutTracer &
    RerouteTracer &
    NodeTracer &
    IntegrityTracer &
    BackgroundTracer &
    ClosingTracer
>

/** One tracer doing what each of `tracers` does, with only the methods at least one of them has. */
export function combineTracers(tracers: ReadonlyArray<RouterTracer | undefined>): RouterTracer {
  const parts = tracers.filter((tracer): tracer is RouterTracer => tracer !== undefined)
  if (parts.length === 1) return parts[0]!
  const having = <K extends keyof RouterTracer>(method: K) =>
    parts.filter((tracer) => typeof tracer[method] === 'function') as Array<Required<Pick<RouterTracer, K>>>
  const combined: RouterTracer = {}
  const statements = having('traceStatementStart') as unknown as StatementTracer[]
  if (statements.length > 0) {
    // Each part gets back what it returned itself.
    combined.traceStatementStart = (reason) => statements.map((tracer) => tracer.traceStatementStart(reason))
    combined.traceStatementEnd = (started, node, reason, error) => {
      for (const [i, tracer] of statements.entries())
        tracer.traceStatementEnd((started as unknown[])[i], node, reason, error)
    }
  }
  const checkouts = having('traceCheckout')
  if (checkouts.length > 0)
    combined.traceCheckout = (node, reason) => {
      for (const tracer of checkouts) tracer.traceCheckout(node, reason)
    }
  const reroutes = having('traceReroute')
  if (reroutes.length > 0)
    combined.traceReroute = (event) => {
      for (const tracer of reroutes) tracer.traceReroute(event)
    }
  const states = having('traceNodeState')
  if (states.length > 0)
    combined.traceNodeState = (event) => {
      for (const tracer of states) tracer.traceNodeState(event)
    }
  const primaries = having('tracePrimaryChange')
  if (primaries.length > 0)
    combined.tracePrimaryChange = (event) => {
      for (const tracer of primaries) tracer.tracePrimaryChange(event)
    }
  const replaced = having('traceClusterReplaced')
  if (replaced.length > 0)
    combined.traceClusterReplaced = (event) => {
      for (const tracer of replaced) tracer.traceClusterReplaced(event)
    }
  const lost = having('traceWritesLost')
  if (lost.length > 0)
    combined.traceWritesLost = (event) => {
      for (const tracer of lost) tracer.traceWritesLost(event)
    }
  const background = having('traceBackground')
  if (background.length > 0)
    combined.traceBackground = <T>(work: () => T): T =>
      background.reduceRight<() => T>((inner, tracer) => () => tracer.traceBackground(inner), work)()
  const closing = having('close')
  if (closing.length > 0)
    combined.close = () => {
      for (const tracer of closing) tracer.close()
    }
  return combined
}
