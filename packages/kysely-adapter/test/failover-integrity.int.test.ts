/**
 * Issue #20, item 1, through Kysely: a transaction open on the primary when a replica is promoted beside it never
 * commits on the fenced old primary. Its next statement (or its COMMIT) fails with `PGROUTE_ROLE_CHANGED`.
 */
import type { Cluster } from '@pgroute/cluster'
import { requireControl, routerOptions, startTestCluster, waitFor } from '@pgroute/cluster/testing'
import { createRouter, isPgRouteError, type Router } from '@pgroute/core'
import { type Dialect, type Generated, Kysely, PostgresDialect } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { PgRouteDialect } from '../src/index.js'

interface Database {
  item: { id: Generated<number>; name: string }
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

async function setUp(dialectOf: (router: Router) => Dialect) {
  const cluster = await startTestCluster({ replicas: 1 })
  cleanups.push(() => cluster.stop())
  await cluster.primary.query('CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL)')
  await cluster.waitForReplication()
  const router = createRouter(routerOptions(cluster))
  cleanups.push(() => router.end())
  await router.ready()
  const db = new Kysely<Database>({ dialect: dialectOf(router) })
  cleanups.push(() => db.destroy())
  return { cluster, router, db }
}

/** Runs a Kysely transaction that inserts, waits until the router fenced the old primary, then inserts again. */
async function transactionAcrossSplitBrain(cluster: Cluster, router: Router, db: Kysely<Database>) {
  const old = cluster.primary
  const oldName = router.status()[0]!.name
  let promoted!: () => void
  const fenced = new Promise<void>((resolve) => {
    promoted = resolve
  })
  const transaction = db
    .transaction()
    .execute(async (trx) => {
      await trx.insertInto('item').values({ name: 'tx-1' }).execute()
      await fenced
      await trx.insertInto('item').values({ name: 'tx-2' }).execute()
    })
    .then(
      () => new Error('the transaction committed'),
      (error: unknown) => error,
    )
  // Let the first insert run before the promotion.
  await waitFor(
    async () =>
      (await old.query("SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction'")).rowCount! > 0,
    10_000,
    'the transaction to be open',
  )
  await cluster.promote(cluster.replicas[0]!, { stopOldPrimary: false })
  await waitFor(
    () => router.status().find((row) => row.name === oldName)?.state === 'fenced',
    10_000,
    'the old primary to be fenced',
  )
  promoted()
  const error = await transaction
  const onOld = await old.query<{ name: string }>('SELECT name FROM item')
  return { error, onOld: onOld.rows.map((row) => row.name) }
}

function expectRoleChanged(error: unknown): void {
  expect(isPgRouteError(error), `not a PgRouteError: ${String(error)}`).toBe(true)
  expect(error).toMatchObject({ code: 'PGROUTE_ROLE_CHANGED' })
}

describe('a Kysely transaction open across a promotion beside the running primary', () => {
  it('with PgRouteDialect: fails typed, nothing committed on the fenced node', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const { cluster, router, db } = await setUp((router) => new PgRouteDialect({ router }))
    const { error, onOld } = await transactionAcrossSplitBrain(cluster, router, db)
    expectRoleChanged(error)
    expect(onOld).toEqual([])
  })

  it('with PostgresDialect on router.pool: fails typed, nothing committed on the fenced node', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const { cluster, router, db } = await setUp((router) => new PostgresDialect({ pool: router.pool }))
    const { error, onOld } = await transactionAcrossSplitBrain(cluster, router, db)
    expectRoleChanged(error)
    expect(onOld).toEqual([])
  })
})
