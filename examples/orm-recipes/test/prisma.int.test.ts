import type { Cluster } from '@pgroute/cluster'
import { plainPool, routerOptions } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import { PrismaPg } from '@prisma/adapter-pg'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../src/prisma/generated/client.js'
import { createPrisma } from '../src/prisma.js'
import { expectReadYourWrites, expectReplicaReads, seedNotes, startRecipeCluster } from './harness.js'

let cluster: Cluster
let router: Router
let prisma: PrismaClient
let pool: pg.Pool
let plain: PrismaClient

beforeAll(async () => {
  cluster = await startRecipeCluster()
  await seedNotes(cluster, ['first', 'second', 'third'])
  router = createRouter(routerOptions(cluster))
  await router.ready()
  prisma = createPrisma(router)
  pool = plainPool(cluster.primary.url)
  plain = new PrismaClient({ adapter: new PrismaPg(pool) })
})

afterAll(async () => {
  await prisma?.$disconnect()
  await plain?.$disconnect()
  await pool?.end()
  await router?.end()
  await cluster?.stop()
})

const replicaPorts = () => cluster.replicas.map((replica) => replica.port)

describe('Prisma on router.pool (@prisma/adapter-pg)', () => {
  it('sends reads to the replicas', async () => {
    const servedBy: number[] = []
    for (let i = 0; i < 12; i++) {
      const notes = await prisma.note.findMany({ orderBy: { id: 'asc' } })
      servedBy.push(...notes.map((note) => note.servedBy))
    }
    expectReplicaReads(cluster, servedBy)
  })

  it('sends writes to the primary', async () => {
    const note = await prisma.note.create({ data: { title: 'written' } })
    expect(note.writtenBy).toBe(cluster.primary.port) // RETURNING: the server that ran the INSERT
    const updated = await prisma.note.update({ where: { id: note.id }, data: { title: 'rewritten' } })
    expect(updated.servedBy).toBe(cluster.primary.port)
  })

  it('runs an interactive transaction on the primary, its reads included', async () => {
    const servedBy = await prisma.$transaction(async (tx) => {
      const before = await tx.note.findFirstOrThrow({ where: { title: 'first' } })
      await tx.note.create({ data: { title: 'in a transaction' } })
      const after = await tx.note.findFirstOrThrow({ where: { title: 'in a transaction' } })
      return [before.servedBy, after.servedBy]
    })
    expect(servedBy).toEqual([cluster.primary.port, cluster.primary.port])
  })

  it('runs a batch transaction on the primary', async () => {
    const [count, first] = await prisma.$transaction([
      prisma.note.count(),
      prisma.note.findFirstOrThrow({ where: { title: 'first' } }),
    ])
    expect(count).toBeGreaterThan(0)
    expect(first.servedBy).toBe(cluster.primary.port)
  })

  it('a second client on router.primary reads from the primary', async () => {
    const current = new PrismaClient({ adapter: new PrismaPg(router.primary) })
    try {
      const notes = await current.note.findMany()
      expect(new Set(notes.map((note) => note.servedBy))).toEqual(new Set([cluster.primary.port]))
    } finally {
      await current.$disconnect()
    }
  })

  it('parses rows as Prisma does on a plain pg.Pool', async () => {
    const routed = await prisma.note.findFirstOrThrow({ where: { title: 'first' } })
    const expected = await plain.note.findFirstOrThrow({ where: { title: 'first' } })
    expect(replicaPorts()).toContain(routed.servedBy)
    expect({ ...routed, servedBy: 0 }).toEqual({ ...expected, servedBy: 0 })
    expect(routed.total).toBe(9007199254740993n)
    expect(routed.price.toString()).toBe('1234.5')
    expect(routed.moods).toEqual(['calm', 'tense'])
  })

  it('reads its own writes in router.session()', async (context) => {
    await expectReadYourWrites(context, cluster, router, {
      write: async (title) => (await prisma.note.create({ data: { title } })).id,
      read: async (id) => (await prisma.note.findUnique({ where: { id } }))?.servedBy,
    })
  })
})
