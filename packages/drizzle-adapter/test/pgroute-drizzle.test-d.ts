/**
 * Type tests: checked by the TypeScript compiler as part of `pnpm test` (vitest `typecheck`, see
 * vitest.shared.ts); a declared type that drifts fails the run.
 */
import type { createRouter, RoutedPool } from '@pgroute/core'
import type { NodePgDatabase } from 'drizzle-orm/node-postgres'
import type pg from 'pg'
import { describe, expectTypeOf, it } from 'vitest'
import { pgrouteDrizzle } from '../src/index.js'
import type * as schema from './fixtures/schema.js'

declare const router: ReturnType<typeof createRouter>
declare const tables: typeof schema

describe('pgrouteDrizzle types', () => {
  it('is a node-postgres database over the routed pool, with $primary over the primary pool', () => {
    const db = pgrouteDrizzle(router, { schema: tables })
    expectTypeOf(db).toExtend<NodePgDatabase<typeof schema>>()
    expectTypeOf(db.$client).toEqualTypeOf<RoutedPool>()
    expectTypeOf(db.$primary).toExtend<NodePgDatabase<typeof schema>>()
    expectTypeOf(db.$primary.$client).toEqualTypeOf<pg.Pool>()
    expectTypeOf(db.query.users.findFirst).toBeFunction()
  })

  it('without a schema, has no relational queries', () => {
    const plain = pgrouteDrizzle(router)
    expectTypeOf(plain).toExtend<NodePgDatabase<Record<string, never>>>()
  })

  it('refuses a config that is not one', () => {
    // @ts-expect-error: the schema must be an object of tables and relations
    pgrouteDrizzle(router, { schema: 42 })
  })
})
