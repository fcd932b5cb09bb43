/**
 * Drizzle ORM (node-postgres driver) on pgroute: reads on lag-aware replicas with read-your-writes, writes and
 * read-write transactions on the primary, decided per statement by the SQL Drizzle produces.
 *
 * @example
 * ```ts
 * import { createRouter } from '@pgroute/core'
 * import { pgrouteDrizzle } from '@pgroute/drizzle'
 * import * as schema from './schema.js'
 *
 * const router = createRouter({ primary: process.env.PRIMARY_URL, replicas: [process.env.REPLICA_URL] })
 * const db = pgrouteDrizzle(router, { schema })
 * const users = await db.query.users.findMany() // a replica
 * ```
 *
 * @packageDocumentation
 */

export {
  type PgRouteDrizzleConfig,
  type PgRouteDrizzleDatabase,
  pgrouteDrizzle,
} from './pgroute-drizzle.js'
export type { PgRouteRouterLike } from './router-like.js'
