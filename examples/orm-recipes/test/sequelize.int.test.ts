import type { Cluster } from '@pgroute/cluster'
import { routerOptions } from '@pgroute/cluster/testing'
import type { Router } from '@pgroute/core'
import { Sequelize } from 'sequelize'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSequelize } from '../src/sequelize.js'
import { defineNote, type SequelizeNote } from '../src/sequelize-models.js'
import { expectReadYourWrites, expectReplicaReads, seedNotes, startRecipeCluster } from './harness.js'

let cluster: Cluster
let router: Router
let sequelize: Sequelize
let plain: Sequelize

beforeAll(async () => {
  cluster = await startRecipeCluster()
  await seedNotes(cluster, ['first', 'second', 'third'])
  ;({ sequelize, router } = await createSequelize(routerOptions(cluster), { logging: false }))
  await router.ready()
  defineNote(sequelize)
  plain = new Sequelize(cluster.primary.url, { dialect: 'postgres', logging: false })
  defineNote(plain)
})

afterAll(async () => {
  await sequelize?.close()
  await plain?.close()
  await router?.end()
  await cluster?.stop()
})

const replicaPorts = () => cluster.replicas.map((replica) => replica.port)
const Note = () => sequelize.models.Note as ReturnType<typeof defineNote>

/** A note as plain data, without the server that answered. */
function values(note: SequelizeNote): Record<string, unknown> {
  const { servedBy: _servedBy, ...rest } = note.get({ plain: true })
  return rest
}

describe('Sequelize on router.pool (its pool over router.pool, types: Sequelize parsers)', () => {
  it('sends reads to the replicas', async () => {
    const servedBy: number[] = []
    for (let i = 0; i < 12; i++) {
      const notes = await Note().findAll({ order: [['id', 'ASC']] })
      servedBy.push(...notes.map((note) => note.servedBy))
    }
    expectReplicaReads(cluster, servedBy)
  })

  it('sends writes to the primary', async () => {
    const note = await Note().create({ title: 'written' })
    expect(note.writtenBy).toBe(cluster.primary.port) // RETURNING: the server that ran the INSERT
    const [, updated] = await Note().update(
      { title: 'rewritten' },
      { where: { id: note.id }, returning: true },
    )
    expect(updated.map((row) => row.servedBy)).toEqual([cluster.primary.port])
  })

  it('runs a transaction on the primary, its reads included', async () => {
    const servedBy = await sequelize.transaction(async (transaction) => {
      const before = await Note().findOne({ where: { title: 'first' }, transaction })
      await Note().create({ title: 'in a transaction' }, { transaction })
      const after = await Note().findOne({ where: { title: 'in a transaction' }, transaction })
      return [before?.servedBy, after?.servedBy]
    })
    expect(servedBy).toEqual([cluster.primary.port, cluster.primary.port])
  })

  it('parses rows as Sequelize does on its own connections', async () => {
    const routed = await Note().findOne({ where: { title: 'first' } })
    const expected = await (plain.models.Note as ReturnType<typeof defineNote>).findOne({
      where: { title: 'first' },
    })
    expect(replicaPorts()).toContain(routed?.servedBy)
    expect(values(routed!)).toEqual(values(expected!))
    expect(routed?.moods).toEqual(['calm', 'tense'])
    expect(routed?.span).toEqual([
      { value: 1, inclusive: true },
      { value: 10, inclusive: false },
    ])
  })

  it('reads its own writes in router.session()', async (context) => {
    await expectReadYourWrites(context, cluster, router, {
      write: async (title) => (await Note().create({ title })).id,
      read: async (id) => (await Note().findByPk(id))?.servedBy,
    })
  })
})
