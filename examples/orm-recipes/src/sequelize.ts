import { createRouter, type Router, type RouterOptions } from '@pgroute/core'
import type pg from 'pg'
import { type Options, Sequelize } from 'sequelize'

/** What Sequelize's PostgreSQL connection manager has beyond its public type. */
interface PostgresConnectionManager {
  /** Where Sequelize takes every connection from (its own pool, or its `replication` pair). */
  pool: {
    acquire(): Promise<pg.PoolClient>
    release(client: pg.PoolClient): void
    destroy(client: pg.PoolClient): void
    drain(): Promise<void>
    destroyAllNow(): Promise<void>
  }
  /** Sequelize's type parsers: its own for dates, ranges, enum arrays…, then pg's. */
  getTypeParser: pg.CustomTypesConfig['getTypeParser']
  /** Looks up the OIDs of enums and ranges, which its parsers need. */
  _refreshDynamicOIDs(): Promise<void>
}

/**
 * Sequelize on a router. Sequelize takes every connection, for each query and each transaction, from its
 * connection manager's `pool`: here that pool hands out `router.pool` clients, which pin their node at their
 * first statement (a read goes to a replica, a write or a transaction to the primary). The router's nodes parse
 * rows with Sequelize's parsers (`types`). `sequelize.close()` leaves the router open; end it with `router.end()`.
 *
 * Sequelize opens no connection of its own, so its `pool` options and the `SET TIME ZONE` it sends on each new
 * connection (its `timezone` option, default UTC) do not apply: the router's `pool` options do, and statements run
 * in the nodes' own time zone. Where SQL depends on it (`date_trunc`, `to_char`, `::date`), set it on the nodes
 * (`ALTER ROLE … SET timezone = 'UTC'`, or `options: '-c TimeZone=UTC'` in each node's config).
 */
export async function createSequelize(
  routerOptions: RouterOptions,
  options: Omit<Options, 'dialect' | 'replication'>,
): Promise<{ sequelize: Sequelize; router: Router }> {
  const sequelize = new Sequelize({ ...options, dialect: 'postgres' })
  const manager = sequelize.connectionManager as unknown as PostgresConnectionManager
  const router = createRouter({
    ...routerOptions,
    types: { getTypeParser: (oid, format) => manager.getTypeParser(oid, format) },
  })
  manager.pool = {
    acquire: () => router.pool.connect(),
    release: (client) => client.release(),
    destroy: (client) => client.release(true),
    drain: async () => {},
    destroyAllNow: async () => {},
  }
  try {
    // Sequelize asks the server its version (`x.y.0`) before its first query, on a connection of its own: give it.
    const { rows } = await router.query("SELECT current_setting('server_version_num')::int AS version")
    const version: number = rows[0]!.version
    const settings = (sequelize as unknown as { options: { databaseVersion: string } }).options
    settings.databaseVersion = `${Math.floor(version / 10_000)}.${version % 10_000}.0`
    await manager._refreshDynamicOIDs()
  } catch (error) {
    await router.end()
    throw error
  }
  return { sequelize, router }
}
