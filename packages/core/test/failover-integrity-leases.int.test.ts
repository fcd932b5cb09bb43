/**
 * Issue #20, item 1: a connection handed out before a role change (a transaction, a pinned client, a
 * `router.primary` client) is never used past it. Its next statement, COMMIT included, fails with
 * `PGROUTE_ROLE_CHANGED`; nothing lands on a fenced node; the client is never moved to another node silently.
 */
import { requireControl } from '@pgroute/cluster/testing'
import Cursor from 'pg-cursor'
import { afterEach, describe, expect, it } from 'vitest'
import { isPgRouteError, type Router } from '../src/index.js'
import { portOf, routerFor, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'
import { notesOn, refusal, TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

/** The typed error of a lease used past a role change: it says the transaction did not commit. */
function expectRoleChanged(error: unknown): void {
  expect(isPgRouteError(error), `not a PgRouteError: ${String(error)}`).toBe(true)
  expect(error).toMatchObject({ code: 'PGROUTE_ROLE_CHANGED' })
  expect((error as Error).message).toMatch(/not committed|did not commit/)
  expect((error as Error).message).toMatch(/session state/)
}

/** A promise and the function that resolves it. */
function gate(): { readonly opened: Promise<void>; open(): void } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

/** The name the router gives the primary it was configured with. */
function primaryName(router: Router): string {
  return router.status()[0]!.name
}

describe('split brain: promotion beside a running primary', () => {
  it('a router.transaction() body open on the old primary: its COMMIT is refused typed, nothing lands on the fenced node', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const old = c.primary
    const oldName = primaryName(router)
    const inBody = gate()
    const goOn = gate()
    const transaction = refusal(
      router.transaction(async (client) => {
        await client.query("INSERT INTO items (note) VALUES ('tx-1')")
        inBody.open()
        await goOn.opened
        await client.query("INSERT INTO items (note) VALUES ('tx-2')")
      }),
    )
    await inBody.opened
    await c.promote(c.replicas[0]!, { stopOldPrimary: false })
    await waitForState(router, oldName, 'fenced')
    goOn.open()
    expectRoleChanged(await transaction)
    expect(await notesOn(old)).toEqual([])
    expect(await notesOn(c.primary)).toEqual([])
  })

  it('a pinned client in BEGIN … INSERT (how ORMs run transactions on router.pool): the next statement and COMMIT are refused typed', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const old = c.primary
    const oldName = primaryName(router)
    const client = await router.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query("INSERT INTO items (note) VALUES ('pinned-1')")
      await c.promote(c.replicas[0]!, { stopOldPrimary: false })
      await waitForState(router, oldName, 'fenced')
      expectRoleChanged(await refusal(client.query("INSERT INTO items (note) VALUES ('pinned-2')")))
      expectRoleChanged(await refusal(client.query('COMMIT')))
    } finally {
      client.release()
    }
    expect(await notesOn(old)).toEqual([])
    // Re-acquired, a client gets the new primary.
    const again = await router.pool.connect()
    try {
      const { rows } = await again.query<{ port: number }>(
        "INSERT INTO items (note) VALUES ('again') RETURNING inet_server_port() AS port",
      )
      expect(rows[0]!.port).toBe(c.primary.port)
    } finally {
      again.release()
    }
  })

  it('a router.primary.connect() client does not go on reading from the fenced old primary', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const old = c.primary
    const oldName = primaryName(router)
    const client = await router.primary.connect()
    try {
      expect(portOf(await client.query(WHO))).toBe(old.port)
      await c.promote(c.replicas[0]!, { stopOldPrimary: false })
      await waitForState(router, oldName, 'fenced')
      expectRoleChanged(await refusal(client.query(WHO)))
    } finally {
      client.release()
    }
    const fresh = await router.primary.connect()
    try {
      expect(portOf(await fresh.query(WHO))).toBe(c.primary.port)
    } finally {
      fresh.release()
    }
  })

  it('a pinned client in BEGIN … INSERT released after the fencing without another statement: its connection is closed, not pooled in its open transaction', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const old = c.primary
    const oldName = primaryName(router)
    const client = await router.pool.connect()
    await client.query('BEGIN')
    await client.query("INSERT INTO items (note) VALUES ('released-open')")
    await c.promote(c.replicas[0]!, { stopOldPrimary: false })
    await waitForState(router, oldName, 'fenced')
    client.release()
    // The server sees the connection go, and rolls its transaction back.
    await waitFor(
      async () => {
        const { rows } = await old.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
        )
        return rows[0]!.n === 0
        // Well inside the pool's 10 s idle timeout, which would close a pooled connection anyway.
      },
      3000,
      'the released connection closed on the old primary',
    )
    expect(await notesOn(old)).toEqual([])
  })

  it('a checkout still waiting when the old primary is fenced: the connection it gets after is refused typed, nothing lands on the fenced node', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    // One connection per node: the second client's BEGIN waits for the first client's connection.
    const router = resources.router(routerFor(c, { pool: { max: 1, connectionTimeoutMs: 60_000 } }))
    await router.ready()
    const old = c.primary
    const oldName = primaryName(router)
    const holder = await router.pool.connect()
    const waiter = await router.pool.connect()
    let begun: Promise<unknown> | undefined
    try {
      await holder.query('BEGIN')
      // Routed while the old primary leads; its connection comes only after the fencing.
      begun = waiter.query('BEGIN').then(
        () => 'begun',
        (error: unknown) => error,
      )
      await c.promote(c.replicas[0]!, { stopOldPrimary: false })
      await waitForState(router, oldName, 'fenced')
      holder.release()
      const began = await begun
      if (began !== 'begun') expectRoleChanged(began)
      expectRoleChanged(await refusal(waiter.query("INSERT INTO items (note) VALUES ('late-checkout')")))
      expectRoleChanged(await refusal(waiter.query('COMMIT')))
    } finally {
      waiter.release()
    }
    expect(await notesOn(old)).toEqual([])
  })
})

describe('split brain: what a caller holds on the old primary', () => {
  it("a transaction body's own statement after the fencing is refused typed, not run; a body that swallows the error still does not commit", async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const old = c.primary
    const oldName = primaryName(router)
    const inBody = gate()
    const goOn = gate()
    let seenInBody: unknown
    const transaction = refusal(
      router.transaction(async (client) => {
        await client.query("INSERT INTO items (note) VALUES ('body-1')")
        inBody.open()
        await goOn.opened
        // The body's own client: its statement must not reach the fenced node.
        seenInBody = await refusal(client.query("INSERT INTO items (note) VALUES ('body-2')"))
        // A body that swallows the refusal and returns: its COMMIT is refused too.
      }),
    )
    await inBody.opened
    await c.promote(c.replicas[0]!, { stopOldPrimary: false })
    await waitForState(router, oldName, 'fenced')
    goOn.open()
    expectRoleChanged(await transaction)
    expectRoleChanged(seenInBody)
    expect(seenInBody).toMatchObject({ outcome: 'aborted' })
    expect(await notesOn(old)).toEqual([])
  })

  it('a cursor read in a pinned transaction after the fencing fails typed; nothing commits on the fenced node', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const old = c.primary
    const oldName = primaryName(router)
    const client = await router.pool.connect()
    let cursor: Cursor | undefined
    try {
      await client.query('BEGIN')
      await client.query("INSERT INTO items (note) VALUES ('before the cursor')")
      cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 100) AS g'))
      expect(await cursor.read(10)).toHaveLength(10)
      await c.promote(c.replicas[0]!, { stopOldPrimary: false })
      await waitForState(router, oldName, 'fenced')
      expectRoleChanged(await refusal(cursor.read(10)))
      expectRoleChanged(await refusal(client.query('COMMIT')))
    } finally {
      client.release()
    }
    expect(await notesOn(old)).toEqual([])
  })
})

describe('clean failover (old primary stopped first)', () => {
  it('a pinned client with SET ROLE / search_path: its next INSERT is refused typed, never run elsewhere as another role in another schema', async (context) => {
    requireControl(context, 'promotes a replica')
    const c = await resources.cluster({ replicas: 2 })
    await c.primary.query(`
      CREATE ROLE app_limited;
      CREATE SCHEMA tenant_a;
      CREATE TABLE tenant_a.items (id bigserial PRIMARY KEY, note text);
      GRANT USAGE ON SCHEMA tenant_a TO app_limited;
      GRANT INSERT, SELECT ON tenant_a.items TO app_limited;
      GRANT USAGE ON SEQUENCE tenant_a.items_id_seq TO app_limited;`)
    await c.waitForReplication()
    const router = resources.router(routerFor(c))
    await router.ready()
    const client = await router.pool.connect()
    try {
      await client.query('SET ROLE app_limited')
      await client.query('SET search_path TO tenant_a')
      await client.query("INSERT INTO items (note) VALUES ('as-app-limited')")
      const changed = new Promise((resolve) => router.once('primary-changed', resolve))
      await c.promote(c.replicas[0]!)
      await changed
      expectRoleChanged(await refusal(client.query("INSERT INTO items (note) VALUES ('after-failover')")))
    } finally {
      client.release()
    }
    expect(await notesOn(c.primary, 'public.items')).toEqual([])
    expect(await notesOn(c.primary, 'tenant_a.items')).toEqual(['as-app-limited'])
  })

  it('a router.primary.connect() client is not moved to a replica: its next statement is refused typed', async (context) => {
    requireControl(context, 'promotes a replica')
    const c = await resources.cluster({ replicas: 2 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const client = await router.primary.connect()
    try {
      expect(portOf(await client.query(WHO))).toBe(c.primary.port)
      const changed = new Promise((resolve) => router.once('primary-changed', resolve))
      await c.promote(c.replicas[0]!)
      await changed
      // replica-2 follows the new primary and takes reads again: a moved client would land there.
      await waitForState(router, 'replica-2', 'up')
      expectRoleChanged(await refusal(client.query(WHO)))
    } finally {
      client.release()
    }
    await waitFor(async () => portOf(await router.primary.query(WHO)) === c.primary.port, 5000, 'new primary')
    const fresh = await router.primary.connect()
    try {
      expect(portOf(await fresh.query(WHO))).toBe(c.primary.port)
    } finally {
      fresh.release()
    }
  })
})
