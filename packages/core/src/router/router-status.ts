import { formatLsn } from '../health/lsn.js'
import type { Distance } from '../replicas/nearest-selector.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { ReplicaSet } from '../replicas/replica-set.js'
import type { NodeState, SyncState } from '../replicas/router-node.js'

/** One row of `router.status()`: a node's health, lag and traffic. Never contains credentials. */
export interface NodeStatus {
  /** Node name (`host:port/database` unless configured). */
  readonly name: string
  /** Observed: `primary` for the node writes go to now, `replica` for every other (fenced ones included). */
  readonly role: 'primary' | 'replica'
  readonly state: NodeState
  /** Why the node is in its state (for `fenced`: what fences it), or `null` before any change. */
  readonly reason: string | null
  /** Timeline the node is on (primary) or streams (replica), or `null` when unknown. */
  readonly timeline: number | null
  /** `state === 'up'`: the node takes statements of its role. */
  readonly healthy: boolean
  /** Replicas: bytes of WAL behind the primary at the last probe (0 for the primary). */
  readonly lagBytes: number
  /** Replicas: age in seconds of the oldest WAL not replayed yet, at the last probe (0 when caught up, and for the primary). */
  readonly lagSeconds: number
  /** Primary: current WAL position. Replicas: last replayed position. `null` before the first probe. */
  readonly lsn: string | null
  /** Replicas: last received WAL position. */
  readonly receiveLsn: string | null
  /** Statements running on the node now. */
  readonly inFlight: number
  /** Statements the node has completed. */
  readonly served: number
  /** Connection and probe failures. */
  readonly errors: number
  /** Replicas: reads this replica refused as writes, re-run on the primary (see `router.reroutedStatements()`). */
  readonly rerouted: number
  /** Time of the last probe (ISO 8601), or `null`. */
  readonly lastProbeAt: string | null
  /** The last failure's message, scrubbed of secrets, or `null`. */
  readonly lastError: string | null
  /** The zone the node runs in, as configured, or `null`. */
  readonly zone: string | null
  /**
   * Measured round-trip time to the node in ms (a moving average of the probes' round trips and of the fastest
   * statement between two probes, two decimals), or `null` before its first probe.
   */
  readonly rttMs: number | null
  /**
   * How far the node is as `balance: 'nearest'` ranks it now: `near` (the router's zone when both have one, else a
   * round trip within half of the nearest usable replica's, or 0.5 ms of it), `far`, or `null` when neither is known.
   */
  readonly distance: Distance | null
  /**
   * With `balance: 'nearest'`: the reads it sent to the node since the router started, by why — `nearest` (a near
   * replica), `spillOver` (farther, every near one saturated), `far` (no near replica could take them). `null` with
   * another `balance`.
   */
  readonly choices: { readonly nearest: number; readonly spillOver: number; readonly far: number } | null
  /**
   * Replicas: the replica's sync state in the primary's `pg_stat_replication` (`sync`, `quorum`, `potential`,
   * `async`), matched by the `application_name` its WAL receiver gives itself. `null` for the primary, and for a
   * replica the primary lists no single WAL sender for (a cascade, a standby fed from the archive, a name two
   * standbys share) or when the router's role may not see the senders' state (it needs `pg_read_all_stats`).
   */
  readonly syncState: SyncState | null
  /**
   * Servers seen answering on the node's connections (the router's own, and its pool's at login) within the last
   * minute: 1 for a node that is one server, more for an address in front of several (HAProxy, a reader endpoint,
   * a Kubernetes `-ro` service). Such a node gets no read that needs a WAL position (read-your-writes), and
   * `health().problems` names it.
   */
  readonly servers: number
}

/** One {@link NodeStatus} row per node of `nodes`, the primary first; distances as `replicas` ranks them. */
export function statusOf(nodes: NodeSet, replicas: ReplicaSet): NodeStatus[] {
  const { primary, all } = nodes
  return [primary, ...all.filter((node) => node !== primary)].map((node) => ({
    name: node.name,
    role: node.role,
    state: node.state,
    reason: node.reason ?? null,
    timeline: node.timeline ?? null,
    healthy: node.state === 'up',
    lagBytes: node.lagBytes,
    lagSeconds: node.lagSeconds,
    lsn: node.lsn === undefined ? null : formatLsn(node.lsn),
    receiveLsn: node.receiveLsn === undefined ? null : formatLsn(node.receiveLsn),
    inFlight: node.inFlight,
    served: node.served,
    errors: node.errors,
    rerouted: node.rerouted,
    lastProbeAt: node.lastProbeAt === undefined ? null : new Date(node.lastProbeAt).toISOString(),
    lastError: node.lastError ?? null,
    zone: node.zone ?? null,
    rttMs: node.rttMs === undefined ? null : Math.round(node.rttMs * 100) / 100,
    distance: replicas.distanceOf(node),
    choices: replicas.byDistance
      ? { nearest: node.choices.nearest, spillOver: node.choices['spill-over'], far: node.choices.far }
      : null,
    syncState: node.role === 'replica' ? (node.syncState ?? null) : null,
    servers: node.servers.count,
  }))
}
