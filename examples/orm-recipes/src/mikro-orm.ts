import { Configuration } from '@mikro-orm/core'
import {
  type Knex,
  knex,
  MikroORM,
  type Options,
  PostgreSqlConnection,
  PostgreSqlDriver,
  PostgreSqlKnexDialect,
} from '@mikro-orm/postgresql'
import { createRouter, type Router, type RouterOptions } from '@pgroute/core'
import type pg from 'pg'

/**
 * The type parsers MikroORM's PostgreSQL driver gives its connections (dates, timestamps and intervals as
 * strings, which MikroORM converts itself), for the router's `types` option: every node parses rows as MikroORM
 * expects.
 */
export function mikroOrmTypes(config: Options): pg.CustomTypesConfig {
  const connection = new PostgreSqlConnection(
    new Configuration({ ...config, driver: PostgreSqlDriver }, false),
  )
  return (connection.getConnectionOptions() as { types: pg.CustomTypesConfig }).types
}

/** A router whose nodes parse rows as MikroORM expects. */
export function createMikroOrmRouter(options: RouterOptions, config: Options): Router {
  return createRouter({ ...options, types: mikroOrmTypes(config) })
}

/**
 * MikroORM on the router's pool, through a knex (3.3 or newer) of MikroORM's own that takes `router.pool` as
 * `connectionPool`: each query checks out a `router.pool` client, reads go to a replica, `em.flush()` and
 * transactions to the primary, `em.transactional(fn, { readOnly: true })` to a replica. `orm.close()` leaves the
 * router open; end it with `router.end()`.
 */
export function initMikroOrm(router: Router, config: Options): Promise<MikroORM> {
  return MikroORM.init({
    ...config,
    // MikroORM's knex dialect (typed loosely by MikroORM, hence the cast).
    driverOptions: knex({
      client: PostgreSqlKnexDialect as unknown as typeof Knex.Client,
      connectionPool: router.pool,
    }),
  })
}
