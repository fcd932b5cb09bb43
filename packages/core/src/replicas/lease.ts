import { PgRouteError } from '../errors.js'
import type { LeaseRecord } from './lease-record.js'
import type { NodeRole, RouterNode } from './router-node.js'

/**
 * A connection checked out of one node's pool, with what the node was when it was checked out: its role, and the
 * topology epoch of its {@link NodeSet}. Held across statements by a pinned client, a transaction, a client of
 * `router.primary` or a cursor; see {@link leaseIsCurrent} for what a holder checks before sending on it.
 */
export type Lease = LeaseRecord<RouterNode, NodeRole>

/**
 * Whether `lease` still speaks for its node: the node's role has not changed, and it has not been fenced (or
 * unfenced), since the connection was checked out. Two comparisons, no allocation: cheap enough to run before
 * every statement sent on a held connection. A node merely down, or removed (it drains), leaves its leases current.
 */
export function leaseIsCurrent(lease: LeaseRecord): boolean {
  return lease.node.roleEpoch <= lease.epoch && lease.node.role === lease.role
}

/**
 * `PGROUTE_ROLE_CHANGED`: nothing was sent on `lease`, whose node is no longer what it was at checkout, and its
 * connection was closed (so the server rolls back a transaction open on it). `outcome` is `aborted`: nothing the
 * caller asked for on it since its transaction began can commit.
 */
export function roleChangedError(lease: LeaseRecord): PgRouteError {
  const { node } = lease
  const now = node.state === 'fenced' ? `fenced (${node.reason ?? 'no reason recorded'})` : `the ${node.role}`
  return new PgRouteError(
    'PGROUTE_ROLE_CHANGED',
    `The connection was checked out of ${node.name} as the ${lease.role}; ${node.name} is ${now} now, so nothing was sent on it and it was closed: a transaction open on it did not commit (the server rolls it back), and the connection's session state (SET, SET ROLE, search_path, temporary tables, prepared statements, LISTEN, advisory locks) is lost. Release this client and take a new one (or run the transaction again): it gets the current primary`,
    { outcome: 'aborted' },
  )
}
