import type { DrizzleConfig } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import type pg from 'pg'
import { assertRouter, type PgRouteRouterLike } from './router-like.js'
import { validateDrizzleConfig } from './validate-config.js'

/**
 * Drizzle's own configuration (`schema`, `logger`, `casing`, `cache`), as given to `drizzle()` of
 * `drizzle-orm/node-postgres`. The connection comes from the router, so `client` and `connection` are refused.
 */
export type PgRouteDrizzleConfig<TSchema extends Record<string, unknown> = Record<string, never>> =
  DrizzleConfig<TSchema>

/**
 * What {@link pgrouteDrizzle} returns: a normal node-postgres Drizzle database over the router's pool, plus
 * `$primary`, the same schema always on the primary.
 */
export type PgRouteDrizzleDatabase<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TPool extends pg.Pool = pg.Pool,
> = NodePgDatabase<TSchema> & {
  /** The router's pool (`router.pool`): ending it ends the router. */
  $client: TPool
  /**
   * The same schema on the primary only (`router.primary`), for reads that must be current outside a session,
   * and for migrations. Its writes count for the current `router.session()`.
   */
  readonly $primary: NodePgDatabase<TSchema> & { $client: pg.Pool }
}

/**
 * Creates a Drizzle database (node-postgres driver) whose statements pgroute routes: reads (`select`, `$count`,
 * `db.query.*`, `execute` of a read) go to a replica within the lag bounds that has seen the current session's
 * writes; writes, locking reads and read-write transactions go to the primary; `db.transaction(fn, {
 * accessMode: 'read only' })` runs on a replica. `db.$primary` is the same database pinned to the primary.
 *
 * Drizzle's results, type parsing, prepared statements and errors are untouched.
 *
 * @param router - A router from `createRouter()` of `@pgroute/core` (checked by shape).
 * @param config - Drizzle's configuration (`schema`, `logger`, `casing`, `cache`).
 * @throws ConfigError (`code` `PGROUTE_INVALID_OPTION`) naming `router` or the offending config key.
 *
 * @example
 * ```ts
 * import { createRouter } from '@pgroute/core'
 * import { pgrouteDrizzle } from '@pgroute/drizzle'
 * import { eq } from 'drizzle-orm'
 * import * as schema from './schema.js'
 *
 * const router = createRouter({ primary: process.env.PRIMARY_URL, replicas: [process.env.REPLICA_URL] })
 * const db = pgrouteDrizzle(router, { schema })
 *
 * await router.session(async () => {
 *   const [user] = await db.insert(schema.users).values({ name: 'Ada' }).returning() // primary
 *   await db.query.users.findFirst({ where: eq(schema.users.id, user.id) })          // sees the insert
 * })
 * await db.select().from(schema.users)                         // a replica
 * await db.$primary.select().from(schema.users)                // the primary
 * await db.transaction(async (tx) => tx.select().from(schema.users), { accessMode: 'read only' }) // a replica
 * ```
 */
export function pgrouteDrizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TRouter extends PgRouteRouterLike = PgRouteRouterLike,
>(
  router: TRouter,
  config: PgRouteDrizzleConfig<TSchema> = {},
): PgRouteDrizzleDatabase<TSchema, TRouter['pool']> {
  assertRouter(router)
  validateDrizzleConfig(config)
  const db = drizzle<TSchema, TRouter['pool']>({ ...config, client: router.pool })
  const $primary = drizzle<TSchema, pg.Pool>({ ...config, client: router.primary })
  Object.defineProperty(db, '$primary', { value: $primary, enumerable: true })
  return db as PgRouteDrizzleDatabase<TSchema, TRouter['pool']>
}
