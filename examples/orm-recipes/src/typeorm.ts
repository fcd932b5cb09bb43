import type { Router } from '@pgroute/core'
import pg from 'pg'
import { DataSource, type DataSourceOptions } from 'typeorm'

/** TypeORM's PostgreSQL options, without those of the connection: the router has them. */
export type TypeormOptions = Omit<
  Extract<DataSourceOptions, { type: 'postgres' }>,
  'type' | 'driver' | 'url' | 'host' | 'port' | 'username' | 'password' | 'replication'
>

/**
 * A TypeORM data source on the router's pool. TypeORM makes its pool with `new driver.Pool(options)`: its
 * `driver` option is `pg` here, with a `Pool` that gives `router.pool`. Each query runner checks out a
 * `router.pool` client, which pins its node at its first statement: a read goes to a replica, `save()` and
 * transactions to the primary. `dataSource.destroy()` ends the pool it was given, so it ends the router.
 */
export function createDataSource(router: Router, options: TypeormOptions): DataSource {
  return new DataSource({
    ...options,
    type: 'postgres',
    driver: { ...pg, Pool: new Proxy(pg.Pool, { construct: () => router.pool }) },
  })
}
