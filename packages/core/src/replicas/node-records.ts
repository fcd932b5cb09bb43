import type pg from 'pg'
import type { LeaseRecord as Lease } from './lease-record.js'
import type { Slotted } from './slot-bag.js'

/** A replica's sync state in the primary's `pg_stat_replication`. */
export type SyncState = 'sync' | 'quorum' | 'potential' | 'async'

/** The servers seen answering on a node's connections within the last minute, and the problem when several did. */
export interface ServersSeen {
  readonly count: number
  readonly problem: string | undefined
}

/**
 * Health of a node as the router sees it:
 * - `unknown`: not probed yet (replicas get no reads until their first probe succeeds);
 * - `up`: reachable and, for a replica, in recovery on the cluster's timeline and within the lag bounds;
 * - `lagging`: a reachable replica beyond `lag.maxBytes` or `lag.maxMs`;
 * - `down`: unreachable, or a probe or statement failed with a connection error (re-probed with back-off);
 * - `fenced`: reachable but not part of the cluster's current history, so it gets no statements: it claims to
 *   be primary on an older timeline (or beside the primary), follows an older timeline, or has another system
 *   identifier. The reason says which. It leaves this state as soon as a probe finds it back in line.
 */
export type NodeState = 'unknown' | 'up' | 'lagging' | 'down' | 'fenced'

/** The role of a node, as observed: the primary, or any other node (a replica, or a fenced node). */
export type NodeRole = 'primary' | 'replica'

/** What runs on one of a node's connections: a statement of the router's, or a transaction's body. */
export interface RunningStatement extends Slotted {
  readonly client: pg.PoolClient
  /** When it runs out of time, in ticks of the time-limit timer (`StatementCanceller`); 0: no limit. */
  readonly deadline: number
  /** A transaction's body (its own statements on the connection), rather than one statement of the router's. */
  readonly body: boolean
  /** The lease the connection was checked out under (what the node was then), once there is one. */
  readonly lease: Lease | undefined
}

/**
 * A checkout waiting for one of a node's connections; failed at once when the node is marked down, and when its
 * deadline passes (whatever the pool's own `connectionTimeoutMillis`, which may be 0: wait forever).
 */
export interface WaitingCheckout extends Slotted {
  /** When the wait runs out, in ticks of the time-limit timer (`StatementCanceller`); 0: no limit. */
  readonly deadline: number
  checkoutFailed(error: unknown): void
}

/** The WAL figures of a node's latest probe; a figure left out is left as it was. */
export interface NodeReading {
  readonly timeline: number | undefined
  readonly lsn: bigint | undefined
  readonly receiveLsn?: bigint | undefined
  readonly lagBytes?: number
  readonly lagSeconds?: number
}
