import { type Cluster, type ReplicaOptions, startCluster } from '@pgroute/cluster'
import { createRouter, type RouteEvent, type Router, type RouterOptions } from '@pgroute/core'
import { type Generated, Kysely, type RawBuilder, sql } from 'kysely'
import { PgRouteDialect, type PgRouteDialectConfig } from '../../src/index.js'

/** Tables every integration test file creates (see {@link SCHEMA}). */
export interface Database {
  item: { id: Generated<number>; name: string; qty: number }
  counter: { id: number; v: number }
}

/** Created on the primary before the router starts; replicas have it before any test runs. */
export const SCHEMA = `
  CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL UNIQUE, qty integer NOT NULL DEFAULT 0);
  CREATE TABLE counter (id integer PRIMARY KEY, v bigint NOT NULL);
  CREATE SEQUENCE ticket;
  INSERT INTO item (name, qty) SELECT 'seed-' || n, n FROM generate_series(1, 1000) AS n;
`

/** Probe often so lag and state changes show up within a fraction of a second. */
export const FAST_HEALTH = { intervalMs: 200, timeoutMs: 150, maxBackoffMs: 500 } as const

/** `inet_server_port()`: which server answered (each node of the cluster has its own port). */
export function serverPort(): RawBuilder<number> {
  return sql<number>`inet_server_port()`
}

/** A cluster, a router over it, and a Kysely instance on {@link PgRouteDialect}. */
export interface Harness {
  readonly cluster: Cluster
  readonly router: Router
  readonly db: Kysely<Database>
  readonly primaryPort: number
  readonly replicaPorts: readonly number[]
  /** `route` events (every connection checkout: node, role, reason), newest last. */
  readonly routes: RouteEvent[]
  /** Destroys the Kysely instance (ending the router) and stops the cluster. */
  stop(): Promise<void>
}

export interface HarnessOptions {
  readonly replicaOptions?: readonly ReplicaOptions[]
  readonly router?: Partial<RouterOptions>
  readonly dialect?: Omit<PgRouteDialectConfig, 'router'>
}

/** Starts a cluster, creates {@link SCHEMA}, and waits until the router can send reads to every replica. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const replicaOptions = options.replicaOptions ?? [{}, {}]
  const cluster = await startCluster({ replicas: replicaOptions.length, replicaOptions })
  try {
    await cluster.primary.query(SCHEMA)
    // Delayed replicas are left out by default: the tests wait for the data only where it is due at once.
    await cluster.waitForReplication()
    const router = createRouter({
      primary: cluster.primary.url,
      replicas: cluster.replicas.map((replica) => ({ name: replica.name, connectionString: replica.url })),
      healthCheck: FAST_HEALTH,
      routeEvents: true,
      ...options.router,
    })
    const routes: RouteEvent[] = []
    router.on('route', (event) => routes.push(event))
    await router.ready()
    const db = new Kysely<Database>({ dialect: new PgRouteDialect({ router, ...options.dialect }) })
    return {
      cluster,
      router,
      db,
      primaryPort: cluster.primary.port,
      replicaPorts: cluster.replicas.map((replica) => replica.port),
      routes,
      async stop() {
        try {
          await db.destroy()
          await router.end()
        } finally {
          await cluster.stop()
        }
      },
    }
  } catch (error) {
    await cluster.stop()
    throw error
  }
}
