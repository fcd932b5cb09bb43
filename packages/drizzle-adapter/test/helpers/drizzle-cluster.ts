import { fileURLToPath } from 'node:url'
import type { Cluster, ReplicaOptions } from '@pgroute/cluster'
import { routerOptions, startTestCluster, waitFor } from '@pgroute/cluster/testing'
import { createRouter, parseLsn, type RouteEvent, type Router, type RouterOptions } from '@pgroute/core'
import { sql } from 'drizzle-orm'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import { type PgRouteDrizzleDatabase, pgrouteDrizzle } from '../../src/index.js'
import * as schema from '../fixtures/schema.js'

/** The migrations every integration test starts from (hand-written, in drizzle-kit's folder format). */
export const migrationsFolder = fileURLToPath(new URL('../fixtures/migrations', import.meta.url))

export type TestDatabase = PgRouteDrizzleDatabase<typeof schema, Router['pool']>

/** A cluster, a router over it and a Drizzle database on the router, with the fixture schema migrated. */
export interface DrizzleCluster {
  readonly cluster: Cluster
  readonly router: Router
  readonly db: TestDatabase
  readonly primaryPort: number
  readonly replicaPorts: readonly number[]
  /** Ends the router and stops the cluster. */
  stop(): Promise<void>
}

export interface DrizzleClusterOptions {
  readonly replicaOptions?: readonly ReplicaOptions[]
  readonly router?: Partial<Omit<RouterOptions, 'primary' | 'replicas'>>
  /** Run the fixture migrations through `db.$primary`. Default true. */
  readonly migrate?: boolean
}

export { plainPool } from '@pgroute/cluster/testing'

/** Starts a cluster (the external one of `PGROUTE_PRIMARY_URL` when set), a router over it and the database. */
export async function startDrizzleCluster(options: DrizzleClusterOptions = {}): Promise<DrizzleCluster> {
  const replicaOptions = options.replicaOptions ?? [{}, {}]
  const cluster = await startTestCluster({ replicas: replicaOptions.length, replicaOptions })
  let router: Router | undefined
  try {
    router = createRouter(routerOptions(cluster, { routeEvents: true, ...options.router }))
    const db = pgrouteDrizzle(router, { schema })
    if (options.migrate !== false) await migrate(db.$primary, { migrationsFolder })
    await cluster.waitForReplication()
    await router.ready()
    const ended = router
    return {
      cluster,
      router,
      db,
      primaryPort: cluster.primary.port,
      replicaPorts: cluster.replicas.map((replica) => replica.port),
      async stop() {
        await ended.end()
        await cluster.stop()
      },
    }
  } catch (error) {
    await router?.end()
    await cluster.stop()
    throw error
  }
}

/** Runs `fn` and returns what it resolved to with every connection the router handed out meanwhile. */
export async function withRoutes<T>(
  router: Router,
  fn: () => Promise<T>,
): Promise<{ value: T; routes: RouteEvent[] }> {
  const routes: RouteEvent[] = []
  const listener = (event: RouteEvent) => routes.push(event)
  router.on('route', listener)
  try {
    return { value: await fn(), routes }
  } finally {
    router.off('route', listener)
  }
}

/** A selection that makes a query report the port of the server that ran it. */
export function serverPort() {
  return sql<number>`inet_server_port()`.mapWith(Number)
}

/** Waits until the router's probes have seen every replica catch up with the primary's current WAL position. */
export async function waitForRouterCatchUp(
  drizzleCluster: DrizzleCluster,
  timeoutMs = 10_000,
): Promise<void> {
  const { cluster, router } = drizzleCluster
  await cluster.waitForReplication()
  const { rows } = await router.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
  const target = parseLsn(rows[0]!.lsn)!
  await waitFor(
    () =>
      router
        .status()
        .filter((node) => node.role === 'replica')
        .every((node) => node.state === 'up' && node.lsn !== null && parseLsn(node.lsn)! >= target),
    timeoutMs,
    'replicas to catch up with the primary',
  )
}
