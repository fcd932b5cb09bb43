import { DrizzleQueryError, eq, sql } from 'drizzle-orm'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, posts, users } from './fixtures/schema.js'
import {
  type DrizzleCluster,
  serverPort,
  startDrizzleCluster,
  type TestDatabase,
  waitForRouterCatchUp,
} from './helpers/drizzle-cluster.js'

let c: DrizzleCluster
let userId: number
let postId: number

const event = {
  atText: '2024-01-02 03:04:05.123456',
  atDate: new Date('2024-01-02T03:04:05.678Z'),
  day: '2024-02-29',
  span: '1 day 02:03:04',
}

beforeAll(async () => {
  c = await startDrizzleCluster()
  const [user] = await c.db.$primary.insert(users).values({ name: 'ada' }).returning()
  userId = user!.id
  // Different ids in the two tables: a join that lost array row mode would mix them up.
  await c.db.$primary.insert(posts).values({ userId, title: 'skipped' })
  await c.db.$primary.delete(posts)
  const [post] = await c.db.$primary.insert(posts).values({ userId, title: 'hello' }).returning()
  postId = post!.id
  await c.db.$primary.insert(events).values(event)
  await waitForRouterCatchUp(c)
})

afterAll(async () => {
  await c?.stop()
})

type Queryable = Pick<TestDatabase, 'select' | 'execute' | 'insert'>

/**
 * Every way a Drizzle statement reaches a server: the routed pool (a replica for reads), a read-only and a
 * read-write transaction (a pinned router client), and `$primary` (the primary pool of the adapter).
 */
const paths: Array<
  [name: string, role: 'replica' | 'primary', run: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>]
> = [
  ['router.pool', 'replica', (fn) => fn(c.db)],
  ['read-only transaction', 'replica', (fn) => c.db.transaction((tx) => fn(tx), { accessMode: 'read only' })],
  ['read-write transaction', 'primary', (fn) => c.db.transaction((tx) => fn(tx))],
  ['$primary', 'primary', (fn) => fn(c.db.$primary)],
]

describe.each(paths)('through %s', (_name, role, run) => {
  const expectRole = (port: number | undefined) =>
    role === 'primary' ? expect(port).toBe(c.primaryPort) : expect(c.replicaPorts).toContain(port)

  it("keeps Drizzle's type parsers (timestamps, dates and intervals as Drizzle maps them)", async () => {
    const [row] = await run((db) =>
      db
        .select({
          atText: events.atText,
          atDate: events.atDate,
          day: events.day,
          span: events.span,
          port: serverPort(),
        })
        .from(events),
    )
    expectRole(row?.port)
    expect(row?.atText).toBe(event.atText)
    expect(row?.atDate).toEqual(event.atDate)
    expect(row?.day).toBe(event.day)
    expect(row?.span).toBe(event.span)
  })

  it('keeps the type parsers of execute()', async () => {
    const { rows } = await run((db) =>
      db.execute<{ at: unknown; day: unknown; port: number }>(
        sql`select '2024-01-02 03:04:05'::timestamp as at, '2024-02-29'::date as day, inet_server_port() as port`,
      ),
    )
    expectRole(rows[0]?.port)
    // pg alone would parse both into Date objects.
    expect(rows[0]?.at).toBe('2024-01-02 03:04:05')
    expect(rows[0]?.day).toBe('2024-02-29')
  })

  it('keeps array row mode (a join selecting two columns named id)', async () => {
    const rows = await run((db) =>
      db
        .select({
          userId: users.id,
          postId: posts.id,
          name: users.name,
          title: posts.title,
          port: serverPort(),
        })
        .from(users)
        .innerJoin(posts, eq(posts.userId, users.id)),
    )
    expect(postId).not.toBe(userId)
    expect(rows).toEqual([{ userId, postId, name: 'ada', title: 'hello', port: expect.any(Number) }])
    expectRole(rows[0]?.port)
  })

  it('runs prepared statements, many times, with placeholders', async () => {
    const results = await run(async (db) => {
      const statement = db
        .select({ name: users.name, port: serverPort() })
        .from(users)
        .where(eq(users.id, sql.placeholder('id')))
        .prepare(`user_by_id_${role}`)
      const out = []
      for (let i = 0; i < 3; i++) out.push(await statement.execute({ id: userId }))
      out.push(await statement.execute({ id: -1 }))
      return out
    })
    for (const rows of results.slice(0, 3)) {
      expect(rows.map((row) => row.name)).toEqual(['ada'])
      expectRole(rows[0]?.port)
    }
    expect(results[3]).toEqual([])
  })

  it("hands database errors over as Drizzle does: DrizzleQueryError caused by pg's own error", async () => {
    const error = await run((db) => db.execute(sql`select * from no_such_table`)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DrizzleQueryError)
    expect((error as DrizzleQueryError).cause).toBeInstanceOf(pg.DatabaseError)
    expect((error as DrizzleQueryError).cause).toMatchObject({ code: '42P01' })
  })
})

describe('writes through every primary path', () => {
  it('runs a prepared insert on the primary', async () => {
    const insert = c.db
      .insert(users)
      .values({ name: sql.placeholder('name') })
      .returning({ name: users.name, port: serverPort() })
      .prepare('insert_user')
    for (const name of ['p1', 'p2']) {
      const [row] = await insert.execute({ name })
      expect(row).toEqual({ name, port: c.primaryPort })
    }
  })

  it('passes a named statement to the server inside a transaction', async () => {
    const names = await c.db.transaction(
      async (tx) => {
        await tx
          .select()
          .from(users)
          .where(eq(users.id, sql.placeholder('id')))
          .prepare('tx_named')
          .execute({ id: userId })
        const { rows } = await tx.execute<{ name: string }>(sql`select name from pg_prepared_statements`)
        return rows.map((row) => row.name)
      },
      { accessMode: 'read only' },
    )
    expect(names).toContain('tx_named')
  })

  it('hands over a unique violation unchanged on each path', async () => {
    const attempts = [
      c.db.insert(users).values({ id: userId, name: 'dup' }),
      c.db.transaction(async (tx) => {
        await tx.insert(users).values({ id: userId, name: 'dup' })
      }),
      c.db.$primary.insert(users).values({ id: userId, name: 'dup' }),
    ]
    for (const attempt of attempts) {
      const error = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(DrizzleQueryError)
      expect((error as DrizzleQueryError).cause).toBeInstanceOf(pg.DatabaseError)
      expect((error as DrizzleQueryError).cause).toMatchObject({ code: '23505', constraint: 'users_pkey' })
    }
  })
})
