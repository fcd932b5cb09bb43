import type { Cluster } from '@pgroute/cluster'
import { routerOptions } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import { DataSource } from 'typeorm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDataSource } from '../src/typeorm.js'
import { type TypeormNote, TypeormNoteSchema } from '../src/typeorm-entities.js'
import { expectReadYourWrites, expectReplicaReads, seedNotes, startRecipeCluster } from './harness.js'

let cluster: Cluster
let router: Router
let dataSource: DataSource
let plain: DataSource

beforeAll(async () => {
  cluster = await startRecipeCluster()
  await seedNotes(cluster, ['first', 'second', 'third'])
  router = createRouter(routerOptions(cluster))
  await router.ready()
  dataSource = await createDataSource(router, { entities: [TypeormNoteSchema] }).initialize()
  plain = await new DataSource({
    type: 'postgres',
    url: cluster.primary.url,
    entities: [TypeormNoteSchema],
  }).initialize()
})

afterAll(async () => {
  await dataSource?.destroy() // ends the router too
  await plain?.destroy()
  await router?.end()
  await cluster?.stop()
})

const replicaPorts = () => cluster.replicas.map((replica) => replica.port)
const notes = () => dataSource.getRepository(TypeormNoteSchema)

/** A note as plain data, without the server that answered. */
function values(note: TypeormNote): Omit<TypeormNote, 'servedBy'> {
  const { servedBy: _servedBy, ...rest } = note
  return rest
}

describe('TypeORM on router.pool (driver: pg with the router pool)', () => {
  it('sends reads to the replicas', async () => {
    const servedBy: number[] = []
    for (let i = 0; i < 12; i++) {
      const found = await notes().find({ order: { id: 'ASC' } })
      servedBy.push(...found.map((note) => note.servedBy))
    }
    expectReplicaReads(cluster, servedBy)
  })

  it('sends writes to the primary', async () => {
    const saved = await notes().save({ title: 'written' })
    expect(saved.writtenBy).toBe(cluster.primary.port) // RETURNING: the server that ran the INSERT
    const { raw } = await notes()
      .createQueryBuilder()
      .update()
      .set({ title: 'rewritten' })
      .where('id = :id', { id: saved.id })
      .returning('served_by')
      .execute()
    expect(raw).toEqual([{ served_by: cluster.primary.port }])
  })

  it('runs a transaction on the primary, its reads included', async () => {
    const servedBy = await dataSource.transaction(async (manager) => {
      const before = await manager.findOneByOrFail(TypeormNoteSchema, { title: 'first' })
      await manager.save(TypeormNoteSchema, { title: 'in a transaction' })
      const after = await manager.findOneByOrFail(TypeormNoteSchema, { title: 'in a transaction' })
      return [before.servedBy, after.servedBy]
    })
    expect(servedBy).toEqual([cluster.primary.port, cluster.primary.port])
  })

  it('parses rows as TypeORM does on its own pg.Pool', async () => {
    const routed = await notes().findOneByOrFail({ title: 'first' })
    const expected = await plain.getRepository(TypeormNoteSchema).findOneByOrFail({ title: 'first' })
    expect(replicaPorts()).toContain(routed.servedBy)
    expect(values(routed)).toEqual(values(expected))
    expect(routed.moods).toEqual(['calm', 'tense'])
  })

  it('dataSource.destroy() ends the router, whose pool it was given', async () => {
    const own = createRouter(routerOptions(cluster))
    const source = await createDataSource(own, { entities: [TypeormNoteSchema] }).initialize()
    await source.destroy()
    await expect(own.query('SELECT 1')).rejects.toMatchObject({ code: 'PGROUTE_CLOSED' })
  })

  it('reads its own writes in router.session()', async (context) => {
    await expectReadYourWrites(context, cluster, router, {
      write: async (title) => (await notes().save({ title })).id,
      read: async (id) => (await notes().findOneBy({ id }))?.servedBy,
    })
  })
})
