import { MikroORM, type Options } from '@mikro-orm/postgresql'
import type { Cluster } from '@pgroute/cluster'
import { routerOptions } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMikroOrmRouter, initMikroOrm } from '../src/mikro-orm.js'
import { type MikroNote, MikroNoteSchema } from '../src/mikro-orm-entities.js'
import { expectReadYourWrites, expectReplicaReads, seedNotes, startRecipeCluster } from './harness.js'

let cluster: Cluster
let config: Options
let router: Router
let orm: MikroORM
let plain: MikroORM

beforeAll(async () => {
  cluster = await startRecipeCluster()
  await seedNotes(cluster, ['first', 'second', 'third'])
  config = { dbName: new URL(cluster.primary.url).pathname.slice(1), entities: [MikroNoteSchema] }
  router = createMikroOrmRouter(routerOptions(cluster), config)
  await router.ready()
  orm = await initMikroOrm(router, config)
  // MikroORM's own connections (its knex pool, its pg) to the primary; `connectionString` keeps what MikroORM's
  // `clientUrl` drops, such as `sslmode` (an external cluster's URLs have it).
  plain = await MikroORM.init({
    ...config,
    clientUrl: cluster.primary.url,
    driverOptions: { connection: { connectionString: cluster.primary.url } },
  })
})

afterAll(async () => {
  await orm?.close()
  await plain?.close()
  await router?.end()
  await cluster?.stop()
})

const replicaPorts = () => cluster.replicas.map((replica) => replica.port)

/** A note as plain data, without the server that answered. */
function values(note: MikroNote): Omit<MikroNote, 'servedBy'> {
  const { servedBy: _servedBy, ...rest } = note
  return { ...rest }
}

describe('MikroORM on router.pool (knex connectionPool, types: MikroORM parsers)', () => {
  it('sends reads to the replicas', async () => {
    const servedBy: number[] = []
    for (let i = 0; i < 12; i++) {
      const notes = await orm.em.fork().find(MikroNoteSchema, {}, { orderBy: { id: 'asc' } })
      servedBy.push(...notes.map((note) => note.servedBy))
    }
    expectReplicaReads(cluster, servedBy)
  })

  it('sends writes to the primary', async () => {
    // In a session: the read after the write must see it (a replica replaying late would miss it).
    const stored = await router.session(async () => {
      const em = orm.em.fork()
      const note = em.create(MikroNoteSchema, { title: 'written' })
      await em.flush()
      return orm.em.fork().findOneOrFail(MikroNoteSchema, note.id)
    })
    expect(stored.writtenBy).toBe(cluster.primary.port)
  })

  it('runs a transaction on the primary, its reads included', async () => {
    const servedBy = await orm.em.fork().transactional(async (em) => {
      const before = await em.findOneOrFail(MikroNoteSchema, { title: 'first' })
      em.create(MikroNoteSchema, { title: 'in a transaction' })
      await em.flush()
      // `refresh`: the note just created is in the identity map, without the column the server computes.
      const after = await em.find(MikroNoteSchema, { title: 'in a transaction' }, { refresh: true })
      return [before.servedBy, ...after.map((note) => note.servedBy)]
    })
    expect(servedBy).toEqual([cluster.primary.port, cluster.primary.port])
  })

  it('runs a read-only transaction on a replica', async () => {
    const servedBy = await orm.em.fork().transactional(
      async (em) => {
        const notes = await em.find(MikroNoteSchema, {})
        return new Set(notes.map((note) => note.servedBy))
      },
      { readOnly: true },
    )
    expect(servedBy.size).toBe(1)
    expect(replicaPorts()).toContain([...servedBy][0])
  })

  it('parses rows as MikroORM does on its own connections', async () => {
    const routed = await orm.em.fork().findOneOrFail(MikroNoteSchema, { title: 'first' })
    const expected = await plain.em.fork().findOneOrFail(MikroNoteSchema, { title: 'first' })
    expect(replicaPorts()).toContain(routed.servedBy)
    expect(values(routed)).toEqual(values(expected))
    expect(routed.pause).toMatchObject({ days: 1, hours: 2, minutes: 3, seconds: 4 })
    expect(routed.moods).toEqual(['calm', 'tense'])
  })

  it('without MikroORM parsers on the nodes, rows differ (what the types option fixes)', async () => {
    const bare = createRouter(routerOptions(cluster))
    const bareOrm = await initMikroOrm(bare, config)
    try {
      await bare.ready()
      const routed = await bareOrm.em.fork().findOneOrFail(MikroNoteSchema, { title: 'first' })
      const expected = await plain.em.fork().findOneOrFail(MikroNoteSchema, { title: 'first' })
      // pg's own parsers: a `timestamp` read in the process's time zone, an interval MikroORM reads as zeros.
      expect(routed.writtenAt).not.toEqual(expected.writtenAt)
      expect(routed.pause).toMatchObject({ days: 0, hours: 0, minutes: 0, seconds: 0 })
    } finally {
      await bareOrm.close()
      await bare.end()
    }
  })

  it('reads its own writes in router.session()', async (context) => {
    await expectReadYourWrites(context, cluster, router, {
      write: async (title) => {
        const em = orm.em.fork()
        const note = em.create(MikroNoteSchema, { title })
        await em.flush()
        return note.id
      },
      read: async (id) => (await orm.em.fork().findOne(MikroNoteSchema, id))?.servedBy,
    })
  })
})
