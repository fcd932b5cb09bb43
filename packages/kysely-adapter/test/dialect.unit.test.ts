import { createRouter, isConfigError, type RoutedClient, type Router } from '@pgroute/core'
import {
  CamelCasePlugin,
  CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from 'kysely'
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest'
import { onPrimary, PgRouteDialect, type PgRouteDialectConfig, primary } from '../src/index.js'
import { isMarkedForPrimary } from '../src/primary-plugin.js'

let router: Router

beforeAll(() => {
  // Never connected to: these tests only build dialects and compile queries.
  router = createRouter({ primary: 'postgres://app@127.0.0.1:1/app' })
})

afterAll(async () => {
  await router.end()
})

function configErrorOf(config: unknown): { option: string; message: string } | undefined {
  try {
    new PgRouteDialect(config as PgRouteDialectConfig)
    return undefined
  } catch (error) {
    if (!isConfigError(error)) throw error
    return { option: error.option, message: error.message }
  }
}

describe('PgRouteDialect options', () => {
  it('accepts a router, and Kysely gets PostgreSQL’s compiler, adapter and introspector', () => {
    const dialect = new PgRouteDialect({ router })
    expect(dialect.createQueryCompiler()).toBeInstanceOf(PostgresQueryCompiler)
    expect(dialect.createAdapter()).toBeInstanceOf(PostgresAdapter)
    const db = new Kysely<{ t: { id: number } }>({ dialect })
    expect(dialect.createIntrospector(db)).toBeInstanceOf(PostgresIntrospector)
    expect(db.selectFrom('t').select('id').where('id', '=', 1).compile().sql).toBe(
      'select "id" from "t" where "id" = $1',
    )
  })

  it.each([
    ['no options', undefined, 'config'],
    ['no router', {}, 'router'],
    ['a pool instead of a router', { router: { query: () => {} } }, 'router'],
    ['a connection string instead of a router', { router: 'postgres://localhost/app' }, 'router'],
  ])('rejects %s, naming the option', (_, config, option) => {
    expect(configErrorOf(config)?.option).toBe(option)
  })

  it('rejects a cursor that is not a class', () => {
    const error = configErrorOf({ router, cursor: 'pg-cursor' })
    expect(error?.option).toBe('cursor')
    expect(error?.message).toMatch(/Cursor class or null, got string/)
  })

  it('rejects a non-boolean endRouterOnDestroy', () => {
    expect(configErrorOf({ router, endRouterOnDestroy: 'yes' })?.option).toBe('endRouterOnDestroy')
  })

  it('accepts cursor: null and a Cursor-like class', () => {
    expect(configErrorOf({ router, cursor: null })).toBeUndefined()
    expect(configErrorOf({ router, cursor: class {} })).toBeUndefined()
  })
})

describe('db.destroy()', () => {
  it('ends the router by default, as PostgresDialect ends its pool', async () => {
    const own = createRouter({ primary: 'postgres://app@127.0.0.1:1/app' })
    const driver = new PgRouteDialect({ router: own }).createDriver()
    await driver.init()
    await driver.destroy()
    const error = await own.connect().catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('PGROUTE_CLOSED')
  })

  it('leaves the router open with endRouterOnDestroy: false', async () => {
    const shared = createRouter({ primary: 'postgres://app@127.0.0.1:1/app' })
    try {
      const driver = new PgRouteDialect({ router: shared, endRouterOnDestroy: false }).createDriver()
      await driver.init()
      await driver.destroy()
      const client = await shared.connect()
      client.release()
    } finally {
      await shared.end()
    }
  })
})

describe("the driver's connections", () => {
  /** A driver over `router` whose `connect()` is spied on: every client made, every release with its argument. */
  async function spiedDriver() {
    const clients: RoutedClient[] = []
    const releases: unknown[] = []
    const connect = router.connect.bind(router)
    const spy = vi.spyOn(router, 'connect').mockImplementation(async () => {
      const client = await connect()
      const release = client.release.bind(client)
      client.release = (error?: Error | boolean) => {
        releases.push(error)
        release(error)
      }
      clients.push(client)
      return client
    })
    onTestFinished(() => spy.mockRestore())
    const driver = new PgRouteDialect({ router, endRouterOnDestroy: false }).createDriver()
    await driver.init()
    return { driver, clients, releases }
  }

  it('hands a released connection out again (Kysely keeps an entry per connection object), afresh', async () => {
    const { driver, clients, releases } = await spiedDriver()
    const first = await driver.acquireConnection()
    const second = await driver.acquireConnection()
    expect(second).not.toBe(first)
    ;(first as unknown as { markBroken(): void }).markBroken()
    await driver.releaseConnection(first)
    const again = await driver.acquireConnection()
    expect(again).toBe(first)
    // Its client is reopened for the new checkout (no new one), which forgets that the last one was broken.
    expect(clients).toHaveLength(2)
    await driver.releaseConnection(again)
    await driver.releaseConnection(second)
    expect(releases).toEqual([true, false, false])

    // Released, it runs nothing and is not released twice, as a released pg client.
    await expect(first.executeQuery(CompiledQuery.raw('select 1'))).rejects.toThrow(/released/)
    await expect(driver.releaseConnection(first)).rejects.toThrow(/already been released/)
    expect(clients).toHaveLength(2)
    await driver.destroy()
  })

  it('gives the next checkout a new client while a statement of the last one still runs', async () => {
    const { driver, clients } = await spiedDriver()
    const busy = await driver.acquireConnection()
    // Its caller does not wait for it: the statement is still running (connecting) when the connection is released.
    const running = busy.executeQuery(CompiledQuery.raw('select 1'))
    running.catch(() => {})
    await driver.releaseConnection(busy)
    const next = await driver.acquireConnection()
    expect(next).toBe(busy)
    expect(clients).toHaveLength(2)
    expect(clients[1]).not.toBe(clients[0])
    await expect(running).rejects.toThrow()
    await driver.releaseConnection(next)
    // Once nothing of a checkout runs, its client serves the next one again.
    expect(await driver.acquireConnection()).toBe(busy)
    expect(clients).toHaveLength(2)
    await driver.releaseConnection(busy)
    await driver.destroy()
  })
})

describe('onPrimary() / primary(db)', () => {
  interface Database {
    person_row: { person_id: number }
  }
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  })

  it('marks the queries of the instance it is installed on, and no others', () => {
    const plain = db.selectFrom('person_row').selectAll().compile()
    const marked = primary(db).selectFrom('person_row').selectAll().compile()
    expect(isMarkedForPrimary(plain.queryId)).toBe(false)
    expect(isMarkedForPrimary(marked.queryId)).toBe(true)
    // The SQL is untouched.
    expect(marked.sql).toBe(plain.sql)
  })

  it('marks raw SQL and queries of a plugin chain, whatever the order', () => {
    const camel = new Kysely<{ personRow: { personId: number } }>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (k) => new PostgresIntrospector(k),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    })
    const before = camel.withPlugin(onPrimary()).withPlugin(new CamelCasePlugin())
    const after = camel.withPlugin(new CamelCasePlugin()).withPlugin(onPrimary())
    for (const instance of [before, after]) {
      const compiled = instance.selectFrom('personRow').select('personId').compile()
      expect(compiled.sql).toBe('select "person_id" from "person_row"')
      expect(isMarkedForPrimary(compiled.queryId)).toBe(true)
    }
    expect(isMarkedForPrimary(sql`select 1`.compile(primary(db)).queryId)).toBe(true)
    expect(isMarkedForPrimary(sql`select 1`.compile(db).queryId)).toBe(false)
  })

  it('passes results through untouched', async () => {
    const result = { rows: [{ a: 1 }] }
    const plugin = onPrimary()
    await expect(plugin.transformResult({ result, queryId: { queryId: 'x' } })).resolves.toBe(result)
  })
})
