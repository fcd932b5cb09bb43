import { createRequire } from 'node:module'
import { createServer, type Server } from 'node:net'
import { createRouter, type Router } from '@pgroute/core'
import type { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../src/prisma/generated/client.js'

const require = createRequire(import.meta.url)

/**
 * `@prisma/adapter-pg` as it loads when its `pg` is another installed copy than pgroute's: here `pg-other`
 * (`npm:pg@8.20.0`, a devDependency of this package) while pgroute uses pg 8.23.1, what an application gets when
 * its lockfile holds two versions of pg. The adapter's module is loaded afresh with its `require('pg')` answered
 * by that copy.
 */
function adapterOnAnotherPg(): typeof PrismaPg {
  const entry = require.resolve('@prisma/adapter-pg')
  const itsPg = createRequire(entry).resolve('pg')
  const saved = { adapter: require.cache[entry], pg: require.cache[itsPg] }
  delete require.cache[entry]
  require.cache[itsPg] = { exports: require('pg-other') } as NodeJS.Module
  try {
    return (require(entry) as { PrismaPg: typeof PrismaPg }).PrismaPg
  } finally {
    if (saved.adapter) require.cache[entry] = saved.adapter
    else delete require.cache[entry]
    if (saved.pg) require.cache[itsPg] = saved.pg
    else delete require.cache[itsPg]
  }
}

/**
 * Where pg connects when it is given no host: PGHOST / PGPORT name a listener of this test, which counts the
 * connections it gets (a stand-in for a database on localhost:5432 that is not the application's).
 */
let elsewhere: Server
let connectionsElsewhere = 0
const saved = { host: process.env.PGHOST, port: process.env.PGPORT }
let router: Router

beforeAll(async () => {
  elsewhere = createServer((socket) => {
    connectionsElsewhere++
    socket.destroy()
  })
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve))
  const address = elsewhere.address() as { port: number }
  process.env.PGHOST = '127.0.0.1'
  process.env.PGPORT = String(address.port)
  // A router whose nodes are never reached: the adapter below never gets to them.
  router = createRouter({ primary: 'postgres://app@127.0.0.1:1/app', healthCheck: { intervalMs: 60_000 } })
})

afterAll(async () => {
  await router?.end()
  await new Promise((resolve) => elsewhere?.close(resolve))
  for (const [key, value] of [
    ['PGHOST', saved.host],
    ['PGPORT', saved.port],
  ] as const) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
})

describe('Prisma with two copies of pg installed', () => {
  const OtherPrismaPg = adapterOnAnotherPg()

  it('the adapter loaded here uses another pg than pgroute', () => {
    expect(require('pg-other').Pool).not.toBe(pg.Pool)
    expect(router.pool).toBeInstanceOf(pg.Pool)
    expect(router.pool).not.toBeInstanceOf(require('pg-other').Pool)
  })

  it('a query fails, naming two copies of pg, and nothing connects elsewhere', {
    timeout: 20_000,
  }, async () => {
    const prisma = new PrismaClient({ adapter: new OtherPrismaPg(router.pool) })
    try {
      const error = (await prisma.$queryRaw`SELECT 1`.catch((caught: unknown) => caught)) as Error
      expect(error).toBeInstanceOf(Error)
      console.log(`What the application sees: ${error.constructor.name}: ${error.message}`)
      expect(error.message).toMatch(/two copies of pg/)
    } finally {
      await prisma.$disconnect()
    }
    expect(connectionsElsewhere).toBe(0)
  })

  it('control: a pool config without a host connects to PGHOST/PGPORT, which this test counts', async () => {
    const prisma = new PrismaClient({ adapter: new OtherPrismaPg({ database: 'app', user: 'app' }) })
    try {
      await prisma.$queryRaw`SELECT 1`.catch(() => undefined)
    } finally {
      await prisma.$disconnect()
    }
    expect(connectionsElsewhere).toBeGreaterThan(0)
  })
})
