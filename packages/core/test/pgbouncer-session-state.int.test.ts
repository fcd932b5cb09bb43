/**
 * What PgBouncer's transaction pooling still breaks for the application, sentence by sentence as
 * docs/production.md says it, and that session pooling keeps. PgBouncer 1.18 with its defaults hands out the
 * most recently used idle server connection first (`server_round_robin = 0`), so which server connection a
 * statement lands on is predictable while nothing else runs: each case holds or frees the connection it needs.
 * Skipped, with the reason, where pgbouncer is not installed.
 */
import {
  type Cluster,
  type PgBouncerFleet,
  type PoolMode,
  pgbouncerUnavailable,
  startPgBouncer,
} from '@pgroute/cluster'
import { startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'

const missing = pgbouncerUnavailable()
let cluster: Cluster

beforeAll(async () => {
  if (missing) return
  cluster = await startTestCluster({ replicas: 1 })
})

afterAll(async () => {
  await cluster?.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each<PoolMode>(['transaction', 'session'])('through PgBouncer in %s pooling', (poolMode) => {
  const transactionPooling = poolMode === 'transaction'
  let bouncers: PgBouncerFleet | undefined
  let router: Router | undefined
  const clients: pg.Client[] = []

  beforeAll(async () => {
    if (missing) return
    bouncers = await startPgBouncer(cluster, { poolMode })
    router = createRouter({
      primary: bouncers.node('primary').url,
      replicas: [bouncers.node('replica-1').url],
      // Probes rarely, so that they do not take the server connection a case is about.
      healthCheck: { intervalMs: 30_000, timeoutMs: 1000 },
    })
    await router.ready()
  })

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => {})))
    await router?.end()
    await bouncers?.stop()
  })

  /** A plain client of the primary's PgBouncer: another application, or another process of this one. */
  async function plainClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: bouncers!.node('primary').url })
    client.on('error', () => {})
    clients.push(client)
    await client.connect()
    return client
  }

  const setting = "SELECT current_setting('myapp.tenant', true) AS v"

  it(`a session SET on a pinned client ${transactionPooling ? 'leaks to other clients and is lost to its own next transaction' : 'stays with that client'}`, async (context) => {
    if (missing) return context.skip(missing)
    const pinned = await router!.pool.connect()
    try {
      await pinned.query("SET myapp.tenant = 'acme'") // Session state: pgroute pins the client to the primary.
      const other = await plainClient()
      // The server connection freed last is handed out next: the SET is on it, whoever gets it.
      const { rows: seenByOther } = await other.query(setting)
      expect(seenByOther[0].v).toBe(transactionPooling ? 'acme' : null)
      // While another client holds that server connection in a transaction, the pinned client gets another one.
      await other.query('BEGIN')
      const { rows: seenByOwner } = await pinned.query(setting)
      expect(seenByOwner[0].v).toBe(transactionPooling ? null : 'acme')
      await other.query('COMMIT')
      await other.query('RESET myapp.tenant') // Whoever holds it now: clean up.
    } finally {
      await pinned.query('RESET myapp.tenant').catch(() => {})
      pinned.release()
    }
  })

  it('SET LOCAL inside router.transaction() holds for that transaction and leaves nothing behind', async (context) => {
    if (missing) return context.skip(missing)
    const inside = await router!.transaction(async (tx) => {
      await tx.query("SET LOCAL myapp.tenant = 'local'")
      return (await tx.query<{ v: string }>(setting)).rows[0]!.v
    })
    expect(inside).toBe('local')
    const other = await plainClient()
    const { rows } = await other.query(setting)
    expect(rows[0].v === null || rows[0].v === '').toBe(true)
  })

  it(`a session advisory lock ${transactionPooling ? 'belongs to a server connection: the client cannot unlock it' : 'is unlocked by the client that took it'}`, async (context) => {
    if (missing) return context.skip(missing)
    const pinned = await router!.pool.connect()
    const other = await plainClient()
    try {
      await pinned.query('SELECT pg_advisory_lock(4711)')
      // The server connection freed last, the one holding the lock, goes to `other` in transaction pooling.
      await other.query('BEGIN')
      const { rows } = await pinned.query<{ unlocked: boolean }>(
        'SELECT pg_advisory_unlock(4711) AS unlocked',
      )
      expect(rows[0]!.unlocked).toBe(!transactionPooling)
      if (transactionPooling) {
        // `other` now holds the lock: it can release it, its owner could not.
        const { rows: released } = await other.query<{ unlocked: boolean }>(
          'SELECT pg_advisory_unlock(4711) AS unlocked',
        )
        expect(released[0]!.unlocked).toBe(true)
      }
      await other.query('COMMIT')
    } finally {
      pinned.release()
    }
  })

  it('a transaction advisory lock (pg_advisory_xact_lock) in router.transaction() works and ends with it', async (context) => {
    if (missing) return context.skip(missing)
    await router!.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(4712)')
      const { rows } = await tx.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4712 AND granted",
      )
      expect(rows[0]!.n).toBe(1)
    })
    const { rows } = await cluster.primary.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4712",
    )
    expect(rows[0]!.n).toBe(0)
  })

  it(`LISTEN on a pinned client ${transactionPooling ? 'receives no notifications' : 'receives notifications'}`, async (context) => {
    if (missing) return context.skip(missing)
    const pinned = await router!.pool.connect()
    const received: string[] = []
    pinned.on('notification', (message: { payload?: string }) => received.push(message.payload ?? ''))
    try {
      await pinned.query('LISTEN pgroute_events')
      await cluster.primary.query("NOTIFY pgroute_events, 'hello'")
      await sleep(1000)
      // Another statement gives PgBouncer the chance to pass along anything the server connection queued.
      await pinned.query('SELECT 1').catch(() => {})
      expect(received).toEqual(transactionPooling ? [] : ['hello'])
    } finally {
      await pinned.query('UNLISTEN *').catch(() => {})
      pinned.release()
    }
  })

  it(`pg's named prepared statements ${transactionPooling ? 'fail once the next execution lands on another server connection (26000)' : 'work'}`, async (context) => {
    if (missing) return context.skip(missing)
    const app = await plainClient()
    const other = await plainClient()
    const named = { name: 'pgroute_named', text: 'SELECT $1::int AS v', values: [1] }
    await app.query(named) // Parse + Bind + Execute: prepared on this server connection, remembered by pg.
    await other.query('BEGIN') // Holds the server connection the statement was prepared on.
    const second = app.query(named).then(
      (result) => result.rows[0].v as number,
      (error: { code?: string }) => error.code,
    )
    expect(await second).toBe(transactionPooling ? '26000' : 1)
    await other.query('COMMIT')
  })
})
