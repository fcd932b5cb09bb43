import { isConfigError } from '@pgroute/core'
import { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgRouteDialect, primary } from '../src/index.js'
import { type Database, type Harness, serverPort, startHarness } from './helpers/harness.js'

let h: Harness
let db: Kysely<Database>

beforeAll(async () => {
  // A small pool: a stream that kept its connection would soon leave none for the next one.
  h = await startHarness({ router: { pool: { max: 2 } } })
  db = h.db
})

afterAll(async () => {
  await h?.stop()
})

/** Every row of `item` (1000 seeded rows), streamed in chunks; returns the ports that answered and the count. */
async function streamItems(kysely: Kysely<Database>, chunkSize = 64) {
  const ports = new Set<number>()
  let count = 0
  for await (const row of kysely
    .selectFrom('item')
    .select(['id', serverPort().as('port')])
    .where('name', 'like', 'seed-%')
    .orderBy('id')
    .stream(chunkSize)) {
    ports.add(row.port)
    count++
  }
  return { ports, count }
}

describe('.stream()', () => {
  it('streams a SELECT from a replica (pg-cursor loaded by default)', async () => {
    const { ports, count } = await streamItems(db)
    expect(count).toBe(1000)
    expect(ports.size).toBe(1)
    expect(h.replicaPorts).toContain([...ports][0])
  })

  it('streams from the primary through primary(db)', async () => {
    const { ports, count } = await streamItems(primary(db))
    expect(count).toBe(1000)
    expect([...ports]).toEqual([h.primaryPort])
  })

  it('streams a locking SELECT from the primary', async () => {
    const ports = new Set<number>()
    for await (const row of db
      .selectFrom('item')
      .select(serverPort().as('port'))
      .where('id', '<=', 10)
      .forUpdate()
      .stream(3)) {
      ports.add(row.port)
    }
    expect([...ports]).toEqual([h.primaryPort])
  })

  it('streams inside a read-only transaction, on its replica', async () => {
    const result = await db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => {
        const { port } = await trx.selectNoFrom(serverPort().as('port')).executeTakeFirstOrThrow()
        return { trxPort: port, streamed: await streamItems(trx, 500) }
      })
    expect(h.replicaPorts).toContain(result.trxPort)
    expect([...result.streamed.ports]).toEqual([result.trxPort])
    expect(result.streamed.count).toBe(1000)
  })

  it('returns the connection when the loop stops early', async () => {
    // Twice the connections the replicas' pools may open: with a leak, a later stream would time out waiting.
    for (let i = 0; i < 8; i++) {
      for await (const row of db.selectFrom('item').select('id').stream(10)) {
        expect(row.id).toBeGreaterThan(0)
        break
      }
    }
  })

  it('fails with a ConfigError naming `cursor` when streaming is turned off', async () => {
    const noCursor = new Kysely<Database>({
      dialect: new PgRouteDialect({ router: h.router, cursor: null, endRouterOnDestroy: false }),
    })
    try {
      const error = await streamItems(noCursor).catch((e: unknown) => e)
      expect(isConfigError(error)).toBe(true)
      expect((error as { option: string }).option).toBe('cursor')
    } finally {
      await noCursor.destroy()
    }
    // The router was not ended by that instance's destroy().
    const row = await db.selectNoFrom(serverPort().as('port')).executeTakeFirstOrThrow()
    expect(h.replicaPorts).toContain(row.port)
  })
})
