import type { NodeState } from '../replicas/router-node.js'

/** Payload of the `node-state` event: a node changed state. */
export interface NodeStateEvent {
  /** Node name, as in `status()`. */
  readonly node: string
  readonly role: 'primary' | 'replica'
  readonly from: NodeState
  readonly to: NodeState
  /** Why, in words fit for logs (never a password). */
  readonly reason: string
}

/** Payload of the `primary-changed` event: writes now go to another node (a failover was followed). */
export interface PrimaryChangedEvent {
  /** The node that was primary. */
  readonly from: string
  /** The node writes go to from now on. */
  readonly to: string
  /** The cluster's timeline the new primary leads. */
  readonly timeline: number
  /** Why, in words fit for logs. */
  readonly reason: string
}

/**
 * Payload of the `cluster-replaced` event: every node the router knows now answers with another system identifier
 * (a blue/green switch behind stable addresses), consistently for several probe rounds, and none of the old
 * cluster answers: the router adopted the new cluster.
 */
export interface ClusterReplacedEvent {
  /** The system identifier of the cluster the router served until now. */
  readonly previousSystemId: string
  /** The system identifier every node reports now. */
  readonly systemId: string
  /** Why, in words fit for logs. */
  readonly reason: string
}

/**
 * Payload of the `writes-lost` event: a former primary acknowledged WAL past the point where its timeline ended
 * (the promotion window while it still took writes, or WAL it never shipped to the promoted standby). Writes in
 * that range are not on the cluster's current timeline. Sessions that made them are told at their next call
 * (`PGROUTE_WRITES_LOST`).
 */
export interface WritesLostEvent {
  /** The former primary. */
  readonly node: string
  /** The timeline it led, which ended. */
  readonly timeline: number
  /** Where that timeline ended (its switch point), as PostgreSQL prints an LSN. */
  readonly from: string
  /** The furthest position the router saw the former primary reach on it. */
  readonly to: string
  /** Why, in words fit for logs. */
  readonly reason: string
}

/** Payload of the `route` event (only with `routeEvents: true`): where one statement or client went. */
export interface RouteEvent {
  readonly node: string
  readonly role: 'primary' | 'replica'
  /** The classifier's reason (`read`, `write`, `locking-read`, …) or the router's (`read-your-writes`, …). */
  readonly reason: string
}

/** Payload of the `reroute` event: a read was run again elsewhere. */
export interface RerouteEvent {
  /** Node that failed or refused the statement. */
  readonly from: string
  /** Why: the replica refused a write it could not see coming, or a retryable failure. */
  readonly reason: 'read-only-rejection' | 'retry'
  /** The statement text, cut to 200 characters (values are never included). */
  readonly statement: string
  /** The error that caused it. */
  readonly error: unknown
}

/**
 * Events of a {@link Router}. The router never emits `error`: failures of background probes show up as
 * `node-state` changes to `down`.
 */
export interface RouterEvents {
  /** A node went up, down, lagging, fenced, or caught up. */
  'node-state': [event: NodeStateEvent]
  /** The probes found another node leading the newest timeline: writes go there from now on. */
  'primary-changed': [event: PrimaryChangedEvent]
  /** The cluster behind the router's addresses was replaced by another one, which the router adopted. */
  'cluster-replaced': [event: ClusterReplacedEvent]
  /** Acknowledged writes of a former primary are not on the cluster's current timeline (see the payload). */
  'writes-lost': [event: WritesLostEvent]
  /** A statement or client was routed (opt-in: `routeEvents: true`). */
  route: [event: RouteEvent]
  /** A read was re-run on another node. */
  reroute: [event: RerouteEvent]
}

/** Whether a read that went to `role` for `reason` fell back to the primary: no replica could take it. */
export function isFallback(role: string, reason: string): boolean {
  return role === 'primary' && (reason === 'fallback' || reason === 'read-your-writes')
}
