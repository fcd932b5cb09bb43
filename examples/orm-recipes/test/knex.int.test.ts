import type { Cluster } from '@pgroute/cluster'
import { plainPool, routerOptions } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import knex, { type Knex } from 'knex'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKnex } from '../src/knex.js'
import { expectReadYourWrites, expectReplicaReads, seedNotes, startRecipeCluster } from './harness.js'

let cluster: Cluster
let router: Router
let db: Knex
let plain: pg.Pool
let plainDb: Knex

beforeAll(async () => {
  cluster = await startRecipeCluster()
  await seedNotes(cluster, ['first', 'second', 'third'])
  router = createRouter(routerOptions(cluster))
  await router.ready()
  db = createKnex(router)
  plain = plainPool(cluster.primary.url)
  plainDb = knex({ client: 'pg', connectionPool: plain })
})

afterAll(async () => {
  await db?.destroy()
  await plainDb?.destroy()
  await plain?.end()
  await router?.end()
  await cluster?.stop()
})

describe('knex with connectionPool: router.pool', () => {
  it('sends reads to the replicas', async () => {
    const servedBy: number[] = []
    for (let i = 0; i < 12; i++) {
      const rows = await db('notes').select('served_by').orderBy('id')
      servedBy.push(...rows.map((row) => row.served_by as number))
    }
    expectReplicaReads(cluster, servedBy)
  })

  it('sends writes to the primary', async () => {
    const [row] = await db('notes').insert({ title: 'written' }).returning(['written_by', 'served_by'])
    expect(row).toEqual({ written_by: cluster.primary.port, served_by: cluster.primary.port })
    const updated = await db('notes').where({ id: 1 }).update({ title: 'first' }).returning('served_by')
    expect(updated).toEqual([{ served_by: cluster.primary.port }])
  })

  it('runs a transaction on the primary, its reads included', async () => {
    const servedBy = await db.transaction(async (trx) => {
      const before = await trx('notes').first('served_by')
      await trx('notes').insert({ title: 'in a transaction' })
      const after = await trx('notes').where({ title: 'in a transaction' }).first('served_by')
      return [before?.served_by, after?.served_by]
    })
    expect(servedBy).toEqual([cluster.primary.port, cluster.primary.port])
  })

  it('runs a read-only transaction on a replica', async () => {
    const servedBy = await db.transaction(
      async (trx) => {
        const rows = await trx('notes').select('served_by')
        return new Set(rows.map((row) => row.served_by as number))
      },
      { readOnly: true },
    )
    expect(servedBy.size).toBe(1)
    expect(cluster.replicas.map((replica) => replica.port)).toContain([...servedBy][0])
  })

  it('parses rows as knex does on a plain pg.Pool', async () => {
    const columns = ['id', 'title', 'written_at', 'seen_at', 'pause', 'moods', 'span', 'total', 'price']
    const routed = await db('notes')
      .where({ id: 1 })
      .first([...columns, 'served_by'])
    const expected = await plainDb('notes').where({ id: 1 }).first(columns)
    const { served_by: servedBy, ...values } = routed
    expect(cluster.replicas.map((replica) => replica.port)).toContain(servedBy)
    expect(values).toEqual(expected)
  })

  it('reads its own writes in router.session()', async (context) => {
    await expectReadYourWrites(context, cluster, router, {
      write: async (title) => (await db('notes').insert({ title }).returning('id'))[0].id,
      read: async (id) => (await db('notes').where({ id }).first('served_by'))?.served_by,
    })
  })
})
