import { isPgRouteError, type PgRouteError } from '@pgroute/core'
import { type Kysely, sql, type Transaction } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { primary } from '../src/index.js'
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

/** Port of the server `kysely` runs on, and whether its transaction is read-only. */
async function where(kysely: Kysely<Database>) {
  const { rows } = await sql<{
    port: number
    read_only: string
  }>`select inet_server_port() as port, current_setting('transaction_read_only') as read_only`.execute(kysely)
  return rows[0]!
}

async function portsIn(trx: Kysely<Database>, times = 5): Promise<Set<number>> {
  const ports = new Set<number>()
  for (let i = 0; i < times; i++) {
    const row = await trx
      .selectFrom('item')
      .select(serverPort().as('port'))
      .where('id', '=', i + 1)
      .executeTakeFirstOrThrow()
    ports.add(row.port)
  }
  return ports
}

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('db.transaction()', () => {
  it("setAccessMode('read only') runs on one replica", async () => {
    const { ports, state } = await db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => ({ ports: await portsIn(trx), state: await where(trx) }))
    expect(ports.size).toBe(1)
    expect(h.replicaPorts).toContain([...ports][0])
    expect(state.read_only).toBe('on')
  })

  it('read-only with repeatable read runs on a replica', async () => {
    const state = await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute((trx) => where(trx))
    expect(h.replicaPorts).toContain(state.port)
  })

  it('read-only serializable runs on the primary (a hot standby cannot run it)', async () => {
    const state = await db
      .transaction()
      .setIsolationLevel('serializable')
      .setAccessMode('read only')
      .execute((trx) => where(trx))
    expect(state).toEqual({ port: h.primaryPort, read_only: 'on' })
  })

  it('a default transaction runs on the primary and commits', async () => {
    const ports = await db.transaction().execute(async (trx) => {
      await trx.insertInto('item').values({ name: 'trx-commit', qty: 1 }).execute()
      return portsIn(trx)
    })
    expect([...ports]).toEqual([h.primaryPort])
    const row = await primary(db)
      .selectFrom('item')
      .select('qty')
      .where('name', '=', 'trx-commit')
      .executeTakeFirst()
    expect(row?.qty).toBe(1)
  })

  it("setAccessMode('read write') runs on the primary, even when it only reads", async () => {
    const state = await db
      .transaction()
      .setAccessMode('read write')
      .execute((trx) => where(trx))
    expect(state).toEqual({ port: h.primaryPort, read_only: 'off' })
  })

  it('rolls back when the callback throws', async () => {
    const error = await catchError(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('item').values({ name: 'trx-rollback', qty: 1 }).execute()
        throw new Error('boom')
      }),
    )
    expect((error as Error).message).toBe('boom')
    const row = await primary(db)
      .selectFrom('item')
      .select('id')
      .where('name', '=', 'trx-rollback')
      .executeTakeFirst()
    expect(row).toBeUndefined()
  })

  it('a write in a read-only transaction fails with PostgreSQL’s own error', async () => {
    const error = await catchError(
      db
        .transaction()
        .setAccessMode('read only')
        .execute((trx) => trx.insertInto('item').values({ name: 'nope', qty: 1 }).execute()),
    )
    expect(error).toBeInstanceOf(pg.DatabaseError)
    expect((error as pg.DatabaseError).code).toBe('25006')
  })
})

describe('savepoints (db.startTransaction())', () => {
  it('savepoint, rollbackToSavepoint and releaseSavepoint work on the primary', async () => {
    const trx = await db.startTransaction().execute()
    try {
      await trx.insertInto('item').values({ name: 'sp-a', qty: 1 }).execute()
      const afterA = await trx.savepoint('after_a').execute()
      await afterA.insertInto('item').values({ name: 'sp-b', qty: 1 }).execute()
      const back = await afterA.rollbackToSavepoint('after_a').execute()
      await back.insertInto('item').values({ name: 'sp-c', qty: 1 }).execute()
      const afterC = await back.savepoint('after_c').execute()
      await afterC.updateTable('item').set({ qty: 2 }).where('name', '=', 'sp-c').execute()
      const released = await afterC.releaseSavepoint('after_c').execute()
      expect((await where(released)).port).toBe(h.primaryPort)
      await released.commit().execute()
    } catch (error) {
      await trx.rollback().execute()
      throw error
    }
    const rows = await primary(db)
      .selectFrom('item')
      .select(['name', 'qty'])
      .where('name', 'like', 'sp-%')
      .orderBy('name')
      .execute()
    expect(rows).toEqual([
      { name: 'sp-a', qty: 1 },
      { name: 'sp-c', qty: 2 },
    ])
  })

  it('work in a read-only transaction on a replica', async () => {
    const trx = await db.startTransaction().setAccessMode('read only').execute()
    const before = await where(trx)
    const sp = await trx.savepoint('sp').execute()
    const failed = await catchError(sql`select 1/0`.execute(sp))
    expect((failed as pg.DatabaseError).code).toBe('22012')
    const back = await sp.rollbackToSavepoint('sp').execute()
    const after = await where(back)
    await back.commit().execute()
    expect(h.replicaPorts).toContain(before.port)
    expect(after).toEqual(before)
  })

  it('rollback of a controlled transaction discards its writes', async () => {
    const trx = await db.startTransaction().execute()
    await trx.insertInto('item').values({ name: 'ctl-rollback', qty: 1 }).execute()
    await trx.rollback().execute()
    const row = await primary(db)
      .selectFrom('item')
      .select('id')
      .where('name', '=', 'ctl-rollback')
      .executeTakeFirst()
    expect(row).toBeUndefined()
  })
})

describe('db.connection()', () => {
  it('keeps one node for the whole callback, where single queries spread over the replicas', async () => {
    const outside = await portsIn(db, 6)
    expect(outside.size).toBe(2)
    const inside = await db.connection().execute((conn) => portsIn(conn, 6))
    expect(inside.size).toBe(1)
    expect(h.replicaPorts).toContain([...inside][0])
  })

  it('refuses a read-write transaction on a replica-pinned connection with PGROUTE_PINNED', async () => {
    let pinned = 0
    const error = await catchError(
      db.connection().execute(async (conn) => {
        pinned = (await where(conn)).port
        await conn.transaction().execute((trx: Transaction<Database>) => where(trx))
      }),
    )
    expect(h.replicaPorts).toContain(pinned)
    expect(isPgRouteError(error)).toBe(true)
    expect((error as PgRouteError).code).toBe('PGROUTE_PINNED')
    expect((error as Error).message).toMatch(/read-write transaction/)
  })

  it('refuses a write on a replica-pinned connection with PGROUTE_PINNED', async () => {
    const error = await catchError(
      db.connection().execute(async (conn) => {
        await where(conn)
        await conn.insertInto('item').values({ name: 'pinned-write', qty: 1 }).execute()
      }),
    )
    expect((error as PgRouteError).code).toBe('PGROUTE_PINNED')
    const raw = await catchError(
      db.connection().execute(async (conn) => {
        await where(conn)
        await sql`select nextval('ticket')`.execute(conn)
      }),
    )
    expect((raw as PgRouteError).code).toBe('PGROUTE_PINNED')
  })

  it('allows a read-only transaction on its replica, then stays there', async () => {
    const [first, inTrx, after] = await db.connection().execute(async (conn) => {
      const first = await where(conn)
      const inTrx = await conn
        .transaction()
        .setAccessMode('read only')
        .execute((trx) => where(trx))
      return [first, inTrx, await where(conn)]
    })
    expect(h.replicaPorts).toContain(first.port)
    expect(inTrx).toEqual({ port: first.port, read_only: 'on' })
    expect(after.port).toBe(first.port)
  })

  it('starting with a write pins the primary for everything after', async () => {
    const ports = await db.connection().execute(async (conn) => {
      await conn.insertInto('item').values({ name: 'conn-write', qty: 1 }).execute()
      const reads = await portsIn(conn, 4)
      const inTrx = await conn.transaction().execute((trx) => where(trx))
      return new Set([...reads, inTrx.port])
    })
    expect([...ports]).toEqual([h.primaryPort])
  })

  it('primary(db).connection() reads and writes on the primary, session state included', async () => {
    const result = await primary(db)
      .connection()
      .execute(async (conn) => {
        const row = await conn
          .selectFrom('item')
          .select(['id', serverPort().as('port')])
          .where('id', '=', 7)
          .executeTakeFirstOrThrow()
        await sql`set application_name = 'kysely-held'`.execute(conn)
        await conn.updateTable('item').set({ qty: 70 }).where('id', '=', row.id).execute()
        const app = await sql<{ name: string }>`select current_setting('application_name') as name`.execute(
          conn,
        )
        const inTrx = await conn.transaction().execute((trx) => where(trx))
        return { port: row.port, app: app.rows[0]?.name, trxPort: inTrx.port }
      })
    expect(result).toEqual({ port: h.primaryPort, app: 'kysely-held', trxPort: h.primaryPort })
  })
})
