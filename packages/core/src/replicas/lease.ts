import type pg from 'pg'
import type { RouterNode } from './router-node.js'

/** A connection checked out of one node's pool. */
export interface Lease {
  readonly node: RouterNode
  readonly client: pg.PoolClient
}
