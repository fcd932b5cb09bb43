import { requireControl } from '@pgroute/cluster/testing'
import { DrizzleQueryError } from 'drizzle-orm'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type DrizzleCluster,
  migrationsFolder,
  startDrizzleCluster,
  withRoutes,
} from './helpers/drizzle-cluster.js'

let c: DrizzleCluster

const TABLES =
  "select string_agg(relname, ',' order by relname) as names from pg_class where relname in ('users', 'posts', 'counters', 'events', 'user_post_counts')"
const APPLIED = 'select count(*)::int as applied from drizzle.__drizzle_migrations'

beforeAll(async () => {
  c = await startDrizzleCluster({ migrate: false })
})

afterAll(async () => {
  await c?.stop()
})

describe('migrate(db.$primary, { migrationsFolder })', () => {
  it('runs on the primary even while no replica has replayed anything', async (context) => {
    requireControl(context, 'pauses replay')
    // With replay paused, a replica has neither the schema nor the migrations table: any part of the migration
    // that reached one would fail.
    await Promise.all(c.cluster.replicas.map((replica) => replica.pauseReplay()))
    try {
      const { routes } = await withRoutes(c.router, () => migrate(c.db.$primary, { migrationsFolder }))
      expect(routes.length).toBeGreaterThan(0)
      expect(new Set(routes.map((route) => route.role))).toEqual(new Set(['primary']))
      const tables = await c.cluster.primary.query<{ names: string }>(TABLES)
      expect(tables.rows[0]?.names).toBe('counters,events,posts,user_post_counts,users')
      const applied = await c.cluster.primary.query<{ applied: number }>(APPLIED)
      expect(applied.rows[0]?.applied).toBe(2)
    } finally {
      await Promise.all(c.cluster.replicas.map((replica) => replica.resumeReplay()))
    }
  })

  it('reaches the replicas by replication', async (context) => {
    requireControl(context, 'pauses replay (checks the migration of the first test, run with replay paused)')
    await c.cluster.waitForReplication()
    for (const replica of c.cluster.replicas) {
      const tables = await replica.query<{ names: string }>(TABLES)
      expect(tables.rows[0]?.names).toBe('counters,events,posts,user_post_counts,users')
    }
  })

  it('applies nothing twice', async (context) => {
    requireControl(context, 'pauses replay (re-runs the migration of the first test, run with replay paused)')
    const { routes } = await withRoutes(c.router, () => migrate(c.db.$primary, { migrationsFolder }))
    expect(new Set(routes.map((route) => route.role))).toEqual(new Set(['primary']))
    const applied = await c.cluster.primary.query<{ applied: number }>(APPLIED)
    expect(applied.rows[0]?.applied).toBe(2)
  })

  it('is needed: on the routed database, the migrator reads its bookkeeping from a replica', async (context) => {
    requireControl(context, 'pauses replay')
    await Promise.all(c.cluster.replicas.map((replica) => replica.pauseReplay()))
    try {
      // The migrator creates its table on the primary, then reads it back outside any transaction: a routed read.
      const error = await migrate(c.db, { migrationsFolder, migrationsSchema: 'drizzle_routed' }).catch(
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(DrizzleQueryError)
      expect((error as DrizzleQueryError).cause).toMatchObject({ code: '42P01' })
    } finally {
      await Promise.all(c.cluster.replicas.map((replica) => replica.resumeReplay()))
    }
  })
})
