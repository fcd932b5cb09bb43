import { failoverUnderLoad, requireControl } from '@pgroute/cluster/testing'
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { users } from './fixtures/schema.js'
import { type DrizzleCluster, startDrizzleCluster } from './helpers/drizzle-cluster.js'

let c: DrizzleCluster

beforeAll(async () => {
  c = await startDrizzleCluster()
})

afterAll(async () => {
  await c?.stop()
})

describe('a failover under a Drizzle load', () => {
  it('is followed: inserts, selects and transactions carry on on the new primary, no restart', async (context) => {
    requireControl(context, 'promotes a replica')
    const { db, router, cluster } = c
    const promoted = cluster.replicas[1]!
    const { readErrors, writes, promotedAt } = await failoverUnderLoad(cluster, promoted, {
      read: () => db.select({ n: sql<number>`count(*)` }).from(users),
      write: () => db.insert(users).values({ name: 'load' }),
    })

    expect(readErrors).toEqual([])
    const late = writes.filter((write) => write.at >= promotedAt + 3000)
    expect(late.length).toBeGreaterThan(5)
    expect(late.filter((write) => write.error !== undefined)).toEqual([])
    const [row] = await db
      .insert(users)
      .values({ name: 'after-failover' })
      .returning({ id: users.id, port: sql<number>`inet_server_port()` })
    expect(row!.port).toBe(promoted.port)
    const port = await db.transaction(async (tx) => {
      await tx.update(users).set({ name: 'renamed' }).where(eq(users.id, row!.id))
      const result = await tx.execute<{ port: number }>(sql`SELECT inet_server_port() AS port`)
      return result.rows[0]!.port
    })
    expect(port).toBe(promoted.port)
    const seen = await router.session(async () => {
      await db.update(users).set({ name: 'seen' }).where(eq(users.id, row!.id))
      return db.select({ name: users.name }).from(users).where(eq(users.id, row!.id))
    })
    expect(seen).toEqual([{ name: 'seen' }])
  }, 90_000)
})
