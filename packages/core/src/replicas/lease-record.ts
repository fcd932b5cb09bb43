import type pg from 'pg'

/** What a lease's holder checks of the node it was granted on (see `leaseIsCurrent` and `roleChangedError`). */
export interface LeasedNode {
  readonly name: string
  readonly role: string
  /** The topology epoch of the node's last change of role, or of being fenced or unfenced. */
  readonly roleEpoch: number
  readonly state: string
  readonly reason: string | undefined
}

/**
 * The shape of a lease (`Lease` in `lease.ts`): a connection checked out of one node's pool, with the node's role
 * and the topology epoch at checkout. Generic in the node so that `router-node.ts`, whose running statements record
 * the lease they run under, need not import `lease.ts`, which names `RouterNode`: the two files would import each
 * other. `Lease` is this record of a `RouterNode`.
 */
export interface LeaseRecord<Node extends LeasedNode = LeasedNode, Role extends string = string> {
  readonly node: Node
  readonly client: pg.PoolClient
  /** The node's role at checkout. */
  readonly role: Role
  /** The topology epoch at checkout (`NodeSet.epoch`). */
  readonly epoch: number
}
