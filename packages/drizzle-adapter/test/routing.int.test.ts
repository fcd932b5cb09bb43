import { eq, sql } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { withReplicas } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as schema from './fixtures/schema.js'
import { posts, userPostCounts, users } from './fixtures/schema.js'
import {
  type DrizzleCluster,
  plainPool,
  serverPort,
  startDrizzleCluster,
  waitForRouterCatchUp,
  withRoutes,
} from './helpers/drizzle-cluster.js'

let c: DrizzleCluster
let userId: number

beforeAll(async () => {
  c = await startDrizzleCluster()
  const [user] = await c.db.$primary.insert(users).values({ name: 'ada' }).returning()
  userId = user!.id
  await c.db.$primary.insert(posts).values([
    { userId, title: 'one' },
    { userId, title: 'two' },
  ])
  await waitForRouterCatchUp(c)
})

afterAll(async () => {
  await c?.stop()
})

afterEach(() => {
  // A replica refusing a statement means the classifier sent a write there: every rule must hold first time.
  expect(c.router.reroutedStatements()).toEqual([])
})

function expectReplica(port: number | undefined) {
  expect(c.replicaPorts).toContain(port)
}

function expectPrimary(port: number | undefined) {
  expect(port).toBe(c.primaryPort)
}

describe('reads go to a replica', () => {
  it('select', async () => {
    const rows = await c.db.select({ id: users.id, port: serverPort() }).from(users)
    expect(rows.map((row) => row.id)).toContain(userId)
    for (const row of rows) expectReplica(row.port)
  })

  it('select spreads over the replicas', async () => {
    const ports = new Set<number>()
    for (let i = 0; i < 10; i++) {
      const [row] = await c.db.select({ port: serverPort() }).from(users).limit(1)
      ports.add(row!.port)
    }
    expect([...ports].sort()).toEqual([...c.replicaPorts].sort())
  })

  it('selectDistinct and selectDistinctOn', async () => {
    const [distinct] = await c.db.selectDistinct({ port: serverPort() }).from(posts)
    expectReplica(distinct?.port)
    const [distinctOn] = await c.db
      .selectDistinctOn([posts.userId], { userId: posts.userId, port: serverPort() })
      .from(posts)
    expectReplica(distinctOn?.port)
  })

  it('$count', async () => {
    const { value, routes } = await withRoutes(c.router, async () =>
      c.db.$count(posts, eq(posts.userId, userId)),
    )
    expect(value).toBe(2)
    expect(routes.map((route) => route.role)).toEqual(['replica'])
  })

  it('relational queries: findFirst and findMany with `with`', async () => {
    const port = sql<number>`inet_server_port()`.mapWith(Number).as('port')
    const first = await c.db.query.users.findFirst({
      where: eq(users.id, userId),
      with: { posts: { columns: { title: true } } },
      extras: { port },
    })
    expect(first?.posts.map((post) => post.title).sort()).toEqual(['one', 'two'])
    expectReplica(first?.port)
    const many = await c.db.query.posts.findMany({ with: { author: true }, extras: { port } })
    expect(many).toHaveLength(2)
    for (const post of many) {
      expect(post.author.name).toBe('ada')
      expectReplica(post.port)
    }
  })

  it('with(cte).select()', async () => {
    const mine = c.db.$with('mine').as(c.db.select().from(posts).where(eq(posts.userId, userId)))
    const rows = await c.db.with(mine).select({ title: mine.title, port: serverPort() }).from(mine)
    expect(rows).toHaveLength(2)
    for (const row of rows) expectReplica(row.port)
  })

  it('execute() of a read (withReplicas sends it to the primary)', async () => {
    const result = await c.db.execute<{ port: number }>(sql`select inet_server_port() as port`)
    expectReplica(result.rows[0]?.port)
    const raw = await c.db.execute<{ port: number }>('select inet_server_port() as port')
    expectReplica(raw.rows[0]?.port)
  })
})

describe('writes go to the primary', () => {
  it('insert, update and delete', async () => {
    const [inserted] = await c.db
      .insert(users)
      .values({ name: 'bob' })
      .returning({ id: users.id, port: serverPort() })
    expectPrimary(inserted?.port)
    const [updated] = await c.db
      .update(users)
      .set({ name: 'bobby' })
      .where(eq(users.id, inserted!.id))
      .returning({ port: serverPort() })
    expectPrimary(updated?.port)
    const [deleted] = await c.db
      .delete(users)
      .where(eq(users.id, inserted!.id))
      .returning({ port: serverPort() })
    expectPrimary(deleted?.port)
  })

  it('insert without returning, and upsert', async () => {
    const { routes } = await withRoutes(c.router, async () => {
      await c.db.insert(users).values({ name: 'carol' })
      await c.db
        .insert(users)
        .values({ id: userId, name: 'ada' })
        .onConflictDoUpdate({ target: users.id, set: { name: 'ada' } })
    })
    expect(routes.map((route) => route.role)).toEqual(['primary', 'primary'])
  })

  it('execute() of a write', async () => {
    const result = await c.db.execute<{ port: number }>(
      sql`insert into ${users} (name) values (${'dave'}) returning inet_server_port() as port`,
    )
    expectPrimary(result.rows[0]?.port)
  })

  it('with(cte).insert / update / delete (withReplicas sends them to a replica)', async () => {
    const source = c.db
      .$with('source')
      .as(c.db.select({ name: users.name }).from(users).where(eq(users.id, userId)))
    const [inserted] = await c.db
      .with(source)
      .insert(users)
      .values({ name: sql`(select ${source.name} from ${source})` })
      .returning({ id: users.id, name: users.name, port: serverPort() })
    expect(inserted?.name).toBe('ada')
    expectPrimary(inserted?.port)
    const [updated] = await c.db
      .with(source)
      .update(users)
      .set({ name: sql`(select ${source.name} || '-copy' from ${source})` })
      .where(eq(users.id, inserted!.id))
      .returning({ port: serverPort() })
    expectPrimary(updated?.port)
    const [deleted] = await c.db
      .with(source)
      .delete(users)
      .where(eq(users.id, inserted!.id))
      .returning({ port: serverPort() })
    expectPrimary(deleted?.port)
  })

  it('a select over a writing CTE', async () => {
    const created = c.db.$with('created').as(
      c.db
        .insert(users)
        .values({ name: 'erin' })
        .returning({ id: users.id, port: sql<number>`inet_server_port()`.as('port') }),
    )
    const [row] = await c.db.with(created).select({ id: created.id, port: created.port }).from(created)
    expectPrimary(Number(row?.port))
  })

  it('locking reads: for update / no key update / share / key share', async () => {
    for (const strength of ['update', 'no key update', 'share', 'key share'] as const) {
      const [row] = await c.db
        .select({ port: serverPort() })
        .from(users)
        .where(eq(users.id, userId))
        .for(strength)
      expectPrimary(row?.port)
    }
  })

  it('volatile functions: nextval()', async () => {
    const result = await c.db.execute<{ port: number }>(
      sql`select nextval('users_id_seq') as id, inet_server_port() as port`,
    )
    expectPrimary(result.rows[0]?.port)
  })

  it('refreshMaterializedView', async () => {
    const { routes } = await withRoutes(c.router, () => c.db.refreshMaterializedView(userPostCounts))
    expect(routes.map((route) => route.role)).toEqual(['primary'])
  })
})

describe('$primary', () => {
  it('runs reads on the primary', async () => {
    const [selected] = await c.db.$primary.select({ port: serverPort() }).from(users).limit(1)
    expectPrimary(selected?.port)
    const found = await c.db.$primary.query.users.findFirst({
      extras: { port: sql<number>`inet_server_port()`.mapWith(Number).as('port') },
    })
    expectPrimary(found?.port)
    const executed = await c.db.$primary.execute<{ port: number }>(sql`select inet_server_port() as port`)
    expectPrimary(executed.rows[0]?.port)
    // $count reports no port: count the connections taken from the primary's pool, and the router's routes.
    let acquired = 0
    const onAcquire = () => acquired++
    c.router.primary.on('acquire', onAcquire)
    try {
      const { value, routes } = await withRoutes(c.router, async () => c.db.$primary.$count(posts))
      expect(value).toBeGreaterThanOrEqual(2)
      expect(acquired).toBe(1)
      expect(routes.filter((route) => route.role === 'replica')).toEqual([])
    } finally {
      c.router.primary.off('acquire', onAcquire)
    }
  })

  it('runs writes on the primary', async () => {
    const [row] = await c.db.$primary
      .insert(users)
      .values({ name: 'frank' })
      .returning({ port: serverPort() })
    expectPrimary(row?.port)
  })

  it('uses connections of router.primary', async () => {
    expect(c.db.$primary.$client).toBeInstanceOf(pg.Pool)
    let acquired = 0
    const onAcquire = () => acquired++
    c.router.primary.on('acquire', onAcquire)
    try {
      await c.db.$primary.select().from(users).limit(1)
      expect(acquired).toBe(1)
      await c.db.select().from(users).limit(1) // the routed database reads elsewhere
      expect(acquired).toBe(1)
    } finally {
      c.router.primary.off('acquire', onAcquire)
    }
  })
})

describe("drizzle's withReplicas on the same cluster, for contrast", () => {
  let pools: pg.Pool[]
  let replicated: NodePgDatabase<typeof schema> & { $primary: NodePgDatabase<typeof schema> }

  beforeAll(() => {
    pools = [c.cluster.primary, ...c.cluster.replicas].map((node) => plainPool(node.url))
    const [primary, first, ...rest] = pools.map((client) => drizzle({ client, schema }))
    replicated = withReplicas(primary!, [first!, ...rest])
  })

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()))
  })

  it('sends execute() of a read to the primary', async () => {
    const result = await replicated.execute<{ port: number }>(sql`select inet_server_port() as port`)
    expectPrimary(result.rows[0]?.port)
  })

  it('sends with(cte).insert, writing CTEs and locking reads to a replica, which refuses them', async () => {
    const source = replicated.$with('source').as(replicated.select({ name: users.name }).from(users))
    const insert = replicated
      .with(source)
      .insert(users)
      .values({ name: sql`(select min(${source.name}) from ${source})` })
    await expect(insert).rejects.toMatchObject({ cause: { code: '25006' } })
    const created = replicated.$with('created').as(replicated.insert(users).values({ name: 'x' }).returning())
    await expect(replicated.with(created).select().from(created)).rejects.toMatchObject({
      cause: { code: '25006' },
    })
    for (const strength of ['update', 'no key update', 'share', 'key share'] as const) {
      const locking = replicated.select().from(users).where(eq(users.id, userId)).for(strength)
      await expect(locking).rejects.toMatchObject({ cause: { code: '25006' } })
    }
  })

  it('runs a read-only transaction on the primary', async () => {
    const port = await replicated.transaction(
      async (tx) =>
        (await tx.execute<{ port: number }>(sql`select inet_server_port() as port`)).rows[0]?.port,
      { accessMode: 'read only' },
    )
    expectPrimary(port)
  })
})
