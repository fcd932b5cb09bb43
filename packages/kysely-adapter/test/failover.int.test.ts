import { failoverUnderLoad, requireControl } from '@pgroute/cluster/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, serverPort, startHarness } from './helpers/harness.js'

let h: Harness

beforeAll(async () => {
  h = await startHarness()
})

afterAll(async () => {
  await h?.stop()
})

describe('a failover under a Kysely load', () => {
  it('is followed: builder writes, reads and transactions carry on on the new primary, no restart', async (context) => {
    requireControl(context, 'promotes a replica')
    const { db, router, cluster } = h
    const promoted = cluster.replicas[0]!
    let n = 0
    const { readErrors, writes, promotedAt } = await failoverUnderLoad(cluster, promoted, {
      read: () => db.selectFrom('item').select(sql<number>`count(*)`.as('n')).execute(),
      write: () =>
        db
          .insertInto('item')
          .values({ name: `failover-${n++}`, qty: 1 })
          .execute(),
    })

    expect(readErrors).toEqual([])
    const late = writes.filter((write) => write.at >= promotedAt + 3000)
    expect(late.length).toBeGreaterThan(5)
    expect(late.filter((write) => write.error !== undefined)).toEqual([])
    const { port } = await db
      .insertInto('item')
      .values({ name: 'after-failover', qty: 2 })
      .returning(serverPort().as('port'))
      .executeTakeFirstOrThrow()
    expect(port).toBe(promoted.port)
    const inTransaction = await db.transaction().execute(async (trx) => {
      await trx.updateTable('item').set({ qty: 3 }).where('name', '=', 'after-failover').execute()
      return (await sql<{ port: number }>`SELECT inet_server_port() AS port`.execute(trx)).rows[0]!.port
    })
    expect(inTransaction).toBe(promoted.port)
    const seen = await router.session(async () => {
      await db.updateTable('item').set({ qty: 4 }).where('name', '=', 'after-failover').execute()
      return db
        .selectFrom('item')
        .select('qty')
        .where('name', '=', 'after-failover')
        .executeTakeFirstOrThrow()
    })
    expect(seen.qty).toBe(4)
  }, 90_000)
})
