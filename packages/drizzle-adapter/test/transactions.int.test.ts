import { eq, sql } from 'drizzle-orm'
import type { PgTransactionConfig } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { users } from './fixtures/schema.js'
import { type DrizzleCluster, startDrizzleCluster, type TestDatabase } from './helpers/drizzle-cluster.js'

let c: DrizzleCluster

beforeAll(async () => {
  c = await startDrizzleCluster()
})

afterAll(async () => {
  await c?.stop()
})

type Transaction = Parameters<Parameters<TestDatabase['transaction']>[0]>[0]

/** The server port and backend of the connection a statement ran on. */
async function where(tx: Transaction | TestDatabase): Promise<{ port: number; pid: number }> {
  const { rows } = await tx.execute<{ port: number; pid: number }>(
    sql`select inet_server_port() as port, pg_backend_pid() as pid`,
  )
  return rows[0]!
}

async function existsOnPrimary(name: string): Promise<boolean> {
  const { rows } = await c.router.primary.query('select 1 from users where name = $1', [name])
  return rows.length > 0
}

describe('db.transaction()', () => {
  it('hands Drizzle a real pg.Pool, so a transaction gets one client of its own', () => {
    expect(c.db.$client).toBeInstanceOf(pg.Pool)
    expect(c.db.$client).toBe(c.router.pool)
  })

  it('runs BEGIN, every statement and COMMIT on one primary connection', async () => {
    const name = 'tx-commit'
    const seen = await c.db.transaction(async (tx) => {
      const first = await where(tx)
      await tx.insert(users).values({ name })
      // A read inside the transaction sees the uncommitted row only on the transaction's own connection.
      const [row] = await tx.select().from(users).where(eq(users.name, name))
      const last = await where(tx)
      return { first, last, row }
    })
    expect(seen.first.port).toBe(c.primaryPort)
    expect(seen.last).toEqual(seen.first)
    expect(seen.row?.name).toBe(name)
    expect(await existsOnPrimary(name)).toBe(true)
  })

  it('rolls back on the same connection', async () => {
    const name = 'tx-rollback'
    await expect(
      c.db.transaction(async (tx) => {
        await tx.insert(users).values({ name })
        tx.rollback()
      }),
    ).rejects.toThrow('Rollback')
    expect(await existsOnPrimary(name)).toBe(false)
  })

  it('keeps concurrent transactions apart', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        c.db.transaction(async (tx) => {
          const before = await where(tx)
          await tx.insert(users).values({ name: `tx-concurrent-${i}` })
          const [{ mine } = { mine: 0 }] = await tx
            .select({ mine: sql<number>`count(*)::int` })
            .from(users)
            .where(eq(users.name, `tx-concurrent-${i}`))
          const after = await where(tx)
          return { before, after, mine }
        }),
      ),
    )
    for (const { before, after, mine } of results) {
      expect(before.port).toBe(c.primaryPort)
      expect(after).toEqual(before)
      expect(mine).toBe(1)
    }
    expect(new Set(results.map((r) => r.before.pid)).size).toBeGreaterThan(1)
  })

  it('nests savepoints on the same connection', async () => {
    await c.db.transaction(async (tx) => {
      const outer = await where(tx)
      await tx.insert(users).values({ name: 'tx-outer' })
      await expect(
        tx.transaction(async (inner) => {
          expect(await where(inner)).toEqual(outer)
          await inner.insert(users).values({ name: 'tx-inner' })
          inner.rollback()
        }),
      ).rejects.toThrow('Rollback')
      expect(await where(tx)).toEqual(outer)
    })
    expect(await existsOnPrimary('tx-outer')).toBe(true)
    expect(await existsOnPrimary('tx-inner')).toBe(false)
  })
})

describe("db.transaction(fn, { accessMode: 'read only' })", () => {
  const readOnlyConfigs: PgTransactionConfig[] = [
    { accessMode: 'read only' },
    { accessMode: 'read only', isolationLevel: 'repeatable read' },
    { accessMode: 'read only', isolationLevel: 'read committed', deferrable: false },
  ]

  for (const config of readOnlyConfigs) {
    it(`runs on one replica connection: ${JSON.stringify(config)}`, async () => {
      const { first, last, nested } = await c.db.transaction(async (tx) => {
        const first = await where(tx)
        await tx.select().from(users)
        const nested = await tx.transaction(async (inner) => where(inner))
        return { first, last: await where(tx), nested }
      }, config)
      expect(c.replicaPorts).toContain(first.port)
      expect(last).toEqual(first)
      expect(nested).toEqual(first)
    })
  }

  it('hands a write inside it the replica’s own error, unchanged', async () => {
    let port: number | undefined
    const attempt = c.db.transaction(
      async (tx) => {
        port = (await where(tx)).port // the transaction runs on a replica: the error below is the replica's
        await tx.insert(users).values({ name: 'tx-read-only-write' })
      },
      { accessMode: 'read only' },
    )
    const error = await attempt.catch((e: unknown) => e)
    expect(c.replicaPorts).toContain(port)
    const cause = (error as { cause?: unknown }).cause
    expect(cause).toBeInstanceOf(pg.DatabaseError)
    expect(cause).toMatchObject({ code: '25006' })
    expect(await existsOnPrimary('tx-read-only-write')).toBe(false)
    expect(c.router.reroutedStatements()).toEqual([])
  })

  it('stays on the primary for serializable (a hot standby refuses it)', async () => {
    const { port } = await c.db.transaction(async (tx) => where(tx), {
      accessMode: 'read only',
      isolationLevel: 'serializable',
    })
    expect(port).toBe(c.primaryPort)
  })
})

describe('db.$primary.transaction()', () => {
  it('runs read-write and read-only transactions on one primary connection', async () => {
    for (const config of [undefined, { accessMode: 'read only' } as const]) {
      const { first, last } = await c.db.$primary.transaction(async (tx) => {
        const first = await where(tx)
        await tx.select().from(users)
        return { first, last: await where(tx) }
      }, config)
      expect(first.port).toBe(c.primaryPort)
      expect(last).toEqual(first)
    }
  })

  it('commits and rolls back', async () => {
    await c.db.$primary.transaction(async (tx) => {
      await tx.insert(users).values({ name: 'primary-tx-commit' })
    })
    await expect(
      c.db.$primary.transaction(async (tx) => {
        await tx.insert(users).values({ name: 'primary-tx-rollback' })
        tx.rollback()
      }),
    ).rejects.toThrow('Rollback')
    expect(await existsOnPrimary('primary-tx-commit')).toBe(true)
    expect(await existsOnPrimary('primary-tx-rollback')).toBe(false)
  })
})
