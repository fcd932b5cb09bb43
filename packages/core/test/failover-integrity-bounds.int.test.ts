/**
 * Issue #20, item 5: every wait and every end is bounded, and every router error is a `PgRouteError` with a
 * code. `router.end()` resolves whatever the nodes do; the router's own lookups fail typed; router-internal waits
 * keep their limits whatever pool or per-node settings are passed in.
 */
import { requireControl, routerOptions } from '@pgroute/cluster/testing'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, isPgRouteError } from '../src/index.js'
import { routerFor, WHO } from './helpers/cluster-helpers.js'
import { refusal, settledBefore, sleep, TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

function expectTyped(error: unknown): void {
  expect(isPgRouteError(error), `not a PgRouteError: ${String(error)}`).toBe(true)
  expect((error as { code?: unknown }).code).toMatch(/^PGROUTE_/)
}

describe('router.end()', () => {
  it('resolves while a node is SIGSTOPped (it does not wait for the node to resume)', async (context) => {
    requireControl(context, 'hangs a replica')
    const c = await resources.cluster({ replicas: 1 })
    const router = createRouter(routerOptions(c))
    await router.ready()
    for (let i = 0; i < 5; i++) await router.query(WHO)
    const replica = c.replicas[0]!
    await replica.hang()
    try {
      // The node stays frozen for 10 s: end() must settle well before it resumes.
      const outcome = await settledBefore(router.end(), sleep(10_000))
      expect(outcome).not.toBe('pending')
      expect(outcome).toEqual({ value: undefined })
    } finally {
      await replica.resume()
    }
  })
})

describe('router.end() with connections still checked out', () => {
  it('a client never released: end() resolves after its grace, and the client then fails PGROUTE_CLOSED', async () => {
    const c = await resources.cluster({ replicas: 1 })
    const router = createRouter(routerOptions(c))
    await router.ready()
    const client = await router.pool.connect()
    await client.query('BEGIN')
    await client.query("INSERT INTO items (note) VALUES ('held')")
    const outcome = await settledBefore(router.end(), sleep(10_000))
    expect(outcome).toEqual({ value: undefined })
    const error = await refusal(client.query('COMMIT'))
    expectTyped(error)
    expect(error).toMatchObject({ code: 'PGROUTE_CLOSED' })
    client.release()
    // Its transaction never committed.
    expect((await c.primary.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }])
  })

  it('a statement running on a SIGSTOPped primary, no time limits: end() resolves, the statement fails typed', async (context) => {
    requireControl(context, 'hangs the primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = createRouter({ ...routerOptions(c), timeouts: { readMs: 0, writeMs: 0 } })
    await router.ready()
    const write = router.primary.query('SELECT pg_sleep(0.2), inet_server_port()').then(
      () => undefined,
      (error: unknown) => error,
    )
    await c.primary.hang()
    try {
      const outcome = await settledBefore(router.end(), sleep(10_000))
      expect(outcome).toEqual({ value: undefined })
      expectTyped(await write)
    } finally {
      await c.primary.resume()
    }
  })
})

describe('the router’s own lookups while the primary hangs', () => {
  it('router.token() and a session read fail with a typed PgRouteError after timeouts.readMs, not a plain Error', async (context) => {
    requireControl(context, 'hangs the primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c, { timeouts: { readMs: 1000 } }))
    await router.ready()
    await c.primary.hang()
    try {
      // A token ahead of every position the router knows: only the primary can verify it, and the lookup runs after
      // the hang. (A session's own write is no such case: its position is fetched the moment it completes, on the
      // router's connection to the primary, which the probes keep open, and may well arrive before the hang.)
      await router.session(
        async () => {
          expectTyped(await refusal(router.token()))
          expectTyped(await refusal(router.query('SELECT count(*) FROM items')))
        },
        { token: 'FFF/0@1' },
      )
    } finally {
      await c.primary.resume()
    }
  })
})

describe('router-internal waits keep their limits whatever the pools say', () => {
  it('a passed-in pg.Pool (connectionTimeoutMillis 0, its default) that is exhausted: a read settles within timeouts.readMs', async () => {
    const c = await resources.cluster({ replicas: 1 })
    const replicaPool = new pg.Pool({ connectionString: c.replicas[0]!.url, max: 1 })
    // The pool is the test's: once the router has ended (and let go of it), the cluster's shutdown ends its idle
    // connection with 57P01, which a pool without an 'error' listener throws as an uncaught exception.
    replicaPool.on('error', () => {})
    resources.onCleanup(() => replicaPool.end())
    const router = resources.router(
      routerFor(c, {
        replicas: [{ name: 'replica-1', pool: replicaPool }],
        timeouts: { readMs: 1000 },
      }),
    )
    await router.ready()
    const held = await replicaPool.connect()
    try {
      const read = router.query(WHO)
      // Held for 8 s: the read must be answered (elsewhere) or refused typed long before.
      const outcome = await settledBefore(read, sleep(8000))
      expect(outcome).not.toBe('pending')
      if (outcome !== 'pending' && 'error' in outcome) expectTyped(outcome.error)
    } finally {
      held.release()
    }
  })

  it('a per-node connectionTimeoutMillis: 0 with an exhausted pool: a read settles within timeouts.readMs', async () => {
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(
      routerFor(c, {
        replicas: [
          { name: 'replica-1', connectionString: c.replicas[0]!.url, connectionTimeoutMillis: 0, max: 1 },
        ],
        timeouts: { readMs: 1000 },
      }),
    )
    await router.ready()
    // A client pinned to the replica holds its pool's only connection.
    const pinned = await router.pool.connect()
    try {
      await pinned.query('BEGIN READ ONLY')
      await pinned.query(WHO)
      const outcome = await settledBefore(router.query(WHO), sleep(8000))
      expect(outcome).not.toBe('pending')
      if (outcome !== 'pending' && 'error' in outcome) expectTyped(outcome.error)
    } finally {
      await pinned.query('COMMIT').catch(() => {})
      pinned.release()
    }
  })
})
