/**
 * Kysely dialect for pgroute: Kysely queries routed to the PostgreSQL primary or a replica by their operation
 * tree, replication lag and read-your-writes sessions.
 *
 * @example
 * ```ts
 * import { createRouter } from '@pgroute/core'
 * import { PgRouteDialect, primary } from '@pgroute/kysely'
 * import { Kysely } from 'kysely'
 *
 * const router = createRouter({ primary: process.env.PRIMARY_URL, replicas: [process.env.REPLICA_URL] })
 * const db = new Kysely<Database>({ dialect: new PgRouteDialect({ router }) })
 * const posts = await db.selectFrom('post').selectAll().execute() // a replica
 * const fresh = await primary(db).selectFrom('post').selectAll().execute() // the primary
 * ```
 *
 * @packageDocumentation
 */

export { PgRouteDialect } from './pgroute-dialect.js'
export type { PgRouteDialectConfig } from './pgroute-dialect-config.js'
export { onPrimary, primary } from './primary-plugin.js'
export { queryNodeTarget } from './query-node-target.js'
