import { createRouter, isConfigError, isPgRouteError } from '@pgroute/core'
import { DrizzleQueryError } from 'drizzle-orm'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { pgrouteDrizzle } from '../src/index.js'
import * as schema from './fixtures/schema.js'

// Nothing listens on port 1: the router's probes fail at once and no query is ever sent.
const router = createRouter({
  primary: 'postgres://app:s3cret-pw@127.0.0.1:1/app',
  healthCheck: { intervalMs: 60_000 },
})
const unusedPools: pg.Pool[] = []

afterAll(async () => {
  await router.end()
  await Promise.all(unusedPools.map((pool) => pool.end()))
})

function pool(): pg.Pool {
  const created = new pg.Pool({ connectionString: 'postgres://app:s3cret-pw@127.0.0.1:1/app' })
  unusedPools.push(created)
  return created
}

function configErrorOf(fn: () => unknown) {
  try {
    fn()
  } catch (error) {
    expect(isConfigError(error)).toBe(true)
    return error as Error & { option: string; code: string }
  }
  throw new Error('expected a ConfigError')
}

describe('pgrouteDrizzle', () => {
  it('builds a node-postgres database over router.pool, with $primary', () => {
    const db = pgrouteDrizzle(router, { schema })
    expect(db.$client).toBe(router.pool)
    expect(db.$client).toBeInstanceOf(pg.Pool)
    expect(db.$primary.$client).toBeInstanceOf(pg.Pool)
    expect(db.$primary.$client).not.toBe(router.pool)
    expect(Object.keys(db.query).sort()).toEqual(Object.keys(db.$primary.query).sort())
    expect(Object.keys(db.query)).toContain('users')
  })

  it('accepts a router of another copy of @pgroute/core, by shape', () => {
    const lookalike = {
      pool: pool(),
      primary: pool(),
      session: <T>(fn: () => T | Promise<T>) => Promise.resolve(fn()),
      classify: () => ({ target: 'primary' as const }),
    }
    const db = pgrouteDrizzle(lookalike, { schema })
    expect(db.$client).toBe(lookalike.pool)
  })

  it('refuses anything that is not a router, naming the option', () => {
    for (const value of [
      undefined,
      null,
      42,
      'postgres://app:s3cret-pw@127.0.0.1/app',
      {},
      { pool: pool() },
    ]) {
      const error = configErrorOf(() => pgrouteDrizzle(value as never))
      expect(error.option).toBe('router')
      expect(error.code).toBe('PGROUTE_INVALID_OPTION')
      expect(error.message).toMatch(/expected a pgroute Router/)
      expect(error.message).not.toContain('s3cret-pw')
    }
  })

  it('says so when given router.pool instead of the router', () => {
    const error = configErrorOf(() => pgrouteDrizzle(router.pool as never))
    expect(error.message).toMatch(/pass the router itself, not router\.pool/)
  })

  it('refuses a malformed Drizzle config, naming the key', () => {
    const cases: Array<[config: unknown, option: string]> = [
      [null, 'config'],
      [[], 'config'],
      ['schema', 'config'],
      [{ client: pool() }, 'client'],
      [{ connection: 'postgres://localhost/app' }, 'connection'],
      [{ schema: 'users' }, 'schema'],
      [{ logger: 'yes' }, 'logger'],
      [{ casing: 'kebab-case' }, 'casing'],
    ]
    for (const [config, option] of cases) {
      expect(configErrorOf(() => pgrouteDrizzle(router, config as never)).option).toBe(option)
    }
  })

  it('accepts every documented Drizzle option', () => {
    const logger = { logQuery: () => {} }
    for (const config of [{}, { schema }, { logger: true }, { logger }, { casing: 'snake_case' as const }]) {
      expect(() => pgrouteDrizzle(router, config)).not.toThrow()
    }
  })

  it("hands the router's own errors over: as a statement's cause, or directly when opening a transaction", async () => {
    const ended = createRouter({
      primary: 'postgres://app@127.0.0.1:1/app',
      healthCheck: { intervalMs: 60_000 },
    })
    const db = pgrouteDrizzle(ended, { schema })
    await db.$client.end() // ends the router
    const statements = [
      db.select().from(schema.users),
      db.$primary.insert(schema.users).values({ name: 'x' }),
    ]
    for (const statement of statements) {
      const error = await statement.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(DrizzleQueryError)
      expect(isPgRouteError((error as DrizzleQueryError).cause)).toBe(true)
      expect((error as DrizzleQueryError).cause).toMatchObject({ code: 'PGROUTE_CLOSED' })
    }
    for (const database of [db, db.$primary]) {
      const error = await database.transaction(async () => {}).catch((e: unknown) => e)
      expect(isPgRouteError(error)).toBe(true)
      expect(error).toMatchObject({ code: 'PGROUTE_CLOSED' })
    }
    // A read on $primary goes through the router too (router.primary), which has ended.
    const read = await db.$primary
      .select()
      .from(schema.users)
      .catch((e: unknown) => e)
    expect((read as DrizzleQueryError).cause).toMatchObject({ code: 'PGROUTE_CLOSED' })
  })
})
