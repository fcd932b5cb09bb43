import type { Router } from '@pgroute/core'
import knex, { type Knex } from 'knex'

/**
 * Knex (3.3 or newer) on the router's pool: knex checks out a `router.pool` client for each query, and the client
 * pins its node at its first statement: a read goes to a replica, a write or a transaction to the primary, a
 * read-only transaction (`knex.transaction({ readOnly: true })`) to a replica. Knex does not own the pool:
 * `knex.destroy()` leaves the router open; end it with `router.end()`.
 */
export function createKnex(router: Router): Knex {
  return knex({ client: 'pg', connectionPool: router.pool })
}
