import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
} from 'kysely'
import type { PgRouteDialectConfig } from './pgroute-dialect-config.js'
import { PgRouteDriver } from './pgroute-driver.js'
import { type ResolvedConfig, resolveConfig } from './resolve-config.js'

/**
 * Kysely's PostgreSQL dialect with pgroute underneath: the same SQL compiler, adapter and introspector as
 * `PostgresDialect`, and every query routed by the router to the primary or a replica.
 *
 * - SELECTs go to a replica (within the lag bounds, having seen the current `router.session()`'s writes);
 *   SELECT … FOR UPDATE/SHARE, writing CTEs, INSERT/UPDATE/DELETE/MERGE and DDL go to the primary, decided from
 *   the query's operation-node tree. Raw `sql` is classified by its text.
 * - `db.transaction().setAccessMode('read only')` runs on a replica; every other transaction on the primary.
 *   Savepoints work.
 * - `db.connection()` keeps one node for its whole callback (refusing to write on a replica).
 * - `primary(db)` / `db.withPlugin(onPrimary())` send queries to the primary explicitly.
 * - `.stream()` works on every node (with pg-cursor).
 *
 * @example
 * ```ts
 * import { createRouter } from '@pgroute/core'
 * import { PgRouteDialect } from '@pgroute/kysely'
 * import { Kysely } from 'kysely'
 *
 * const router = createRouter({ primary: process.env.PRIMARY_URL, replicas: [process.env.REPLICA_URL] })
 * const db = new Kysely<Database>({ dialect: new PgRouteDialect({ router }) })
 *
 * await router.ready()
 * const people = await db.selectFrom('person').selectAll().execute() // a replica
 * await db.insertInto('person').values({ name: 'Ada' }).execute() // the primary
 * await db.destroy() // ends the router too
 * ```
 */
export class PgRouteDialect implements Dialect {
  readonly #config: ResolvedConfig

  /** @throws {ConfigError} when an option is invalid, naming it (`router`, `cursor`, `endRouterOnDestroy`). */
  constructor(config: PgRouteDialectConfig) {
    this.#config = resolveConfig(config)
  }

  /** A {@link PgRouteDriver} over the router. */
  createDriver(): Driver {
    return new PgRouteDriver(this.#config)
  }

  /** Kysely's PostgreSQL query compiler. */
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler()
  }

  /** Kysely's PostgreSQL adapter (transactional DDL, `RETURNING`, advisory-lock migrations). */
  createAdapter(): DialectAdapter {
    return new PostgresAdapter()
  }

  /** Kysely's PostgreSQL introspector (its catalog queries are reads: they run on a replica). */
  // biome-ignore lint/suspicious/noExplicitAny: the Dialect interface takes any Kysely instance.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db)
  }
}
