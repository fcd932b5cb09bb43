import { requireServerVersion } from '@pgroute/cluster/testing'
import { isPgRouteError } from '@pgroute/core'
import { CamelCasePlugin, type Kysely, type Migration, Migrator, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onPrimary, primary } from '../src/index.js'
import { type Database, type Harness, serverPort, startHarness } from './helpers/harness.js'

let h: Harness
let db: Kysely<Database>

beforeAll(async () => {
  h = await startHarness()
  db = h.db
})

afterAll(async () => {
  await h?.stop()
})

/** Route events (connection checkouts) caused by `fn`. */
async function routesOf(fn: () => Promise<unknown>) {
  const from = h.routes.length
  await fn()
  return h.routes.slice(from)
}

describe('builder SELECTs', () => {
  it('go to the replicas, spread over both', async () => {
    const ports = new Set<number>()
    for (let i = 0; i < 10; i++) {
      const row = await db
        .selectFrom('item')
        .select(['name', serverPort().as('port')])
        .where('id', '=', 1)
        .executeTakeFirstOrThrow()
      expect(row.name).toBe('seed-1')
      ports.add(row.port)
    }
    expect([...ports].sort()).toEqual([...h.replicaPorts].sort())
  })

  it.each([
    ['forUpdate', (q: LockableQuery) => q.forUpdate()],
    ['forNoKeyUpdate', (q: LockableQuery) => q.forNoKeyUpdate()],
    ['forShare', (q: LockableQuery) => q.forShare()],
    ['forKeyShare', (q: LockableQuery) => q.forKeyShare()],
    ['forUpdate().skipLocked()', (q: LockableQuery) => q.forUpdate().skipLocked()],
    ['modifyEnd(sql`for update`)', (q: LockableQuery) => q.modifyEnd(sql`for update`)],
  ])('with %s go to the primary', async (_, lock) => {
    const row = await lock(lockable()).executeTakeFirstOrThrow()
    expect(row.port).toBe(h.primaryPort)
  })

  it('with a lock in a subquery go to the primary', async () => {
    const row = await db
      .selectFrom(db.selectFrom('item').select('id').where('id', '=', 2).forUpdate().as('locked'))
      .select(['locked.id', serverPort().as('port')])
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ id: 2, port: h.primaryPort })
  })

  it('with a writing CTE go to the primary and write', async () => {
    const row = await db
      .with('added', (qb) => qb.insertInto('item').values({ name: 'from-cte', qty: 1 }).returning('id'))
      .selectFrom('added')
      .select(['added.id', serverPort().as('port')])
      .executeTakeFirstOrThrow()
    expect(row.port).toBe(h.primaryPort)
    const check = await primary(db)
      .selectFrom('item')
      .select('name')
      .where('id', '=', row.id)
      .executeTakeFirst()
    expect(check?.name).toBe('from-cte')
  })

  it('calling a write function (nextval) go to the primary: the text is classified too', async () => {
    const row = await db
      .selectNoFrom((eb) => [eb.fn<string>('nextval', [sql.lit('ticket')]).as('n'), serverPort().as('port')])
      .executeTakeFirstOrThrow()
    expect(row.port).toBe(h.primaryPort)
    expect(Number(row.n)).toBeGreaterThan(0)
  })
})

type LockableQuery = ReturnType<typeof lockable>
function lockable() {
  return db
    .selectFrom('item')
    .select(['id', serverPort().as('port')])
    .where('id', '=', 3)
}

describe('data changes', () => {
  it('INSERT, UPDATE and DELETE run on the primary', async () => {
    const inserted = await db
      .insertInto('item')
      .values({ name: 'dml', qty: 1 })
      .returning(['id', serverPort().as('port')])
      .executeTakeFirstOrThrow()
    expect(inserted.port).toBe(h.primaryPort)
    const updated = await db
      .updateTable('item')
      .set({ qty: 2 })
      .where('id', '=', inserted.id)
      .returning(serverPort().as('port'))
      .executeTakeFirstOrThrow()
    expect(updated.port).toBe(h.primaryPort)
    const deleted = await db.deleteFrom('item').where('id', '=', inserted.id).executeTakeFirstOrThrow()
    expect(deleted.numDeletedRows).toBe(1n)
  })

  it('MERGE runs on the primary', async (context) => {
    await requireServerVersion(context, h.cluster, 17, 'MERGE ... RETURNING')
    await db.insertInto('counter').values({ id: 1, v: 1 }).execute()
    const rows = await db
      .mergeInto('counter')
      .using('item', 'item.id', 'counter.id')
      .whenMatched()
      .thenUpdateSet({ v: 2 })
      .returning(serverPort().as('port'))
      .execute()
    expect(rows.map((row) => row.port)).toEqual([h.primaryPort])
  })

  it('DDL runs on the primary (never tried on a replica first)', async () => {
    const events = await routesOf(async () => {
      await db.schema.createTable('ddl_check').addColumn('id', 'integer').execute()
      await db.schema.alterTable('ddl_check').addColumn('note', 'text').execute()
      await db.schema.createIndex('ddl_check_id').on('ddl_check').column('id').execute()
      await db.schema.dropTable('ddl_check').execute()
    })
    expect(events.map((event) => event.role)).toEqual(['primary', 'primary', 'primary', 'primary'])
    expect(h.router.reroutedStatements()).toEqual([])
  })

  it('database errors reach the caller unchanged', async () => {
    const error = await db
      .insertInto('item')
      .values({ name: 'seed-1', qty: 0 })
      .execute()
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(pg.DatabaseError)
    expect((error as pg.DatabaseError).code).toBe('23505')
    expect(isPgRouteError(error)).toBe(false)
  })
})

describe('raw sql`…`', () => {
  it('a raw SELECT goes to a replica', async () => {
    const { rows } = await sql<{ port: number }>`select inet_server_port() as port`.execute(db)
    expect(h.replicaPorts).toContain(rows[0]?.port)
  })

  it('a raw SELECT nextval(…) goes to the primary', async () => {
    const { rows } = await sql<{
      n: string
      port: number
    }>`select nextval('ticket') as n, inet_server_port() as port`.execute(db)
    expect(rows[0]?.port).toBe(h.primaryPort)
  })

  it('a raw write goes to the primary', async () => {
    const { rows } = await sql<{
      port: number
    }>`update item set qty = qty + 1 where id = 5 returning inet_server_port() as port`.execute(db)
    expect(rows[0]?.port).toBe(h.primaryPort)
  })
})

describe('overrides', () => {
  it('primary(db) sends reads to the primary', async () => {
    const row = await primary(db).selectFrom('item').select(serverPort().as('port')).executeTakeFirstOrThrow()
    expect(row.port).toBe(h.primaryPort)
  })

  it('db.withPlugin(onPrimary()) does the same, alongside other plugins, and raw SQL too', async () => {
    const onPrimaryDb = db.withPlugin(new CamelCasePlugin()).withPlugin(onPrimary())
    const row = await onPrimaryDb.selectFrom('item').select(serverPort().as('port')).executeTakeFirstOrThrow()
    expect(row.port).toBe(h.primaryPort)
    const { rows } = await sql<{ port: number }>`select inet_server_port() as port`.execute(primary(db))
    expect(rows[0]?.port).toBe(h.primaryPort)
  })

  it('leaves the original instance alone', async () => {
    primary(db)
    const row = await db.selectFrom('item').select(serverPort().as('port')).executeTakeFirstOrThrow()
    expect(h.replicaPorts).toContain(row.port)
  })
})

describe('Kysely features built on the dialect', () => {
  it('introspection reads the catalog', async () => {
    const tables = await db.introspection.getTables()
    expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(['item', 'counter']))
  })

  it('the Migrator runs on primary(db) (advisory lock, transactional DDL)', async () => {
    const migrations: Record<string, Migration> = {
      '001_note': {
        async up(trx: Kysely<unknown>) {
          await trx.schema
            .createTable('note')
            .addColumn('id', 'serial', (c) => c.primaryKey())
            .execute()
          await sql`insert into note default values`.execute(trx)
        },
      },
    }
    const migrator = new Migrator({ db: primary(db), provider: { getMigrations: async () => migrations } })
    const { error, results } = await migrator.migrateToLatest()
    expect(error).toBeUndefined()
    expect(results?.map((result) => result.status)).toEqual(['Success'])
    const again = await migrator.migrateToLatest()
    expect(again.results).toEqual([])
  })
})
