/**
 * Issue #20, item 3: the promotion window is reported. A write the old primary acknowledged after the promotion's
 * switch point is not on the new timeline: the session that made it (whether it asked for a token or not) is told
 * on its next call, with a typed error, and the router emits an event with the lost WAL range. A write made
 * before the switch point survived: nobody is told about it.
 *
 * To make the window deterministic, the router knows only the old primary while the replica is promoted beside
 * it (as a router learns of a new primary from a service registry): it takes `addNode()` for the router to see the
 * new primary.
 */
import type { Cluster } from '@pgroute/cluster'
import { requireControl } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, isPgRouteError, type Router } from '../src/index.js'
import { FAST_HEALTH, waitFor } from './helpers/cluster-helpers.js'
import { onEvent, refusal, TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

const INSERT = 'INSERT INTO items (note) VALUES ($1) RETURNING id, inet_server_port() AS port'

/** The switch point of timeline 2 as the new primary's history file gives it (`0/1764708`). */
async function switchPoint(c: Cluster): Promise<string> {
  const { rows } = await c.primary.query<{ history: string }>(
    "SELECT pg_read_file('pg_wal/00000002.history') AS history",
  )
  return rows[0]!.history.split('\t')[1]!
}

/** `url` logging in as `role` (password `pw`). */
function as(url: string, role: string): string {
  const parsed = new URL(url)
  parsed.username = role
  parsed.password = 'pw'
  return parsed.toString()
}

/** Router over the primary only (as `role` when given); the replica joins after its promotion. */
async function routerOverPrimary(c: Cluster, role?: string): Promise<Router> {
  const url = role === undefined ? c.primary.url : as(c.primary.url, role)
  const router = resources.router(createRouter({ primary: url, healthCheck: FAST_HEALTH }))
  await router.ready()
  return router
}

/** Promotes the replica beside the running primary; the router learns of it only after `during()` ran. */
async function promoteBehindTheRouter(
  c: Cluster,
  router: Router,
  during: () => Promise<void>,
  promotedUrl?: string,
): Promise<void> {
  const old = c.primary
  const replica = c.replicas[0]!
  await c.promote(replica, { stopOldPrimary: false })
  await during()
  await old.stop()
  await router.addNode({ name: 'promoted', connectionString: promotedUrl ?? replica.url })
  await waitFor(() => router.status()[0]!.name === 'promoted', 10_000, 'the router to follow the promotion')
}

function expectWritesLost(error: unknown): void {
  expect(isPgRouteError(error), `not a PgRouteError: ${String(error)}`).toBe(true)
  expect(error).toMatchObject({ code: 'PGROUTE_WRITES_LOST' })
}

describe('the promotion window', () => {
  it('a session that wrote on the old primary after the switch point (no token asked) is told on its next read; an event gives the lost range', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const oldPort = c.primary.port
    const router = await routerOverPrimary(c)
    const lost: unknown[] = []
    onEvent(router, 'writes-lost', (event) => lost.push(event))

    const outcome = await router.session(async () => {
      await promoteBehindTheRouter(c, router, async () => {
        const { rows } = await router.query<{ port: number }>(INSERT, ['acknowledged, then lost'])
        expect(rows[0]!.port, 'the write ran on the old primary').toBe(oldPort)
      })
      return refusal(router.query('SELECT note FROM items'))
    })
    expectWritesLost(outcome)
    // Written after the switch point: certainly not on the new timeline (running it again applies it once).
    expect(outcome).toMatchObject({ outcome: 'aborted' })
    expect(lost).toHaveLength(1)
    expect(lost[0]).toMatchObject({ timeline: 1, from: await switchPoint(c) })
  })

  it('a session that wrote and read in the window (its position settled on the old timeline) is told at its first call after the router noticed', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = await routerOverPrimary(c)
    const outcome = await router.session(async () => {
      await promoteBehindTheRouter(c, router, async () => {
        await router.query(INSERT, ['acknowledged, read back, then lost'])
        // Read back on the old primary: the session's position is settled there, on timeline 1.
        const { rows } = await router.query('SELECT note FROM items')
        expect(rows).toHaveLength(1)
      })
      return refusal(router.query('SELECT note FROM items'))
    })
    expectWritesLost(outcome)
  })

  it('a session whose write reached the promoted standby before the promotion is told nothing, and reads it back', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const router = await routerOverPrimary(c)
    const lost: unknown[] = []
    onEvent(router, 'writes-lost', (event) => lost.push(event))
    const rows = await router.session(async () => {
      const { rows: written } = await router.query<{ id: string }>(INSERT, ['kept'])
      await c.waitForReplication()
      await promoteBehindTheRouter(c, router, async () => {})
      const { rows: read } = await router.query<{ note: string }>('SELECT note FROM items WHERE id = $1', [
        written[0]!.id,
      ])
      return read
    })
    expect(rows).toEqual([{ note: 'kept' }])
    expect(lost).toEqual([])
  })

  it('a token taken in the window fails its next session typed; a token of a write before the switch point still reads its row', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await resources.cluster({ replicas: 1 })
    const oldPort = c.primary.port
    const router = await routerOverPrimary(c)
    const kept = await router.session(async () => {
      const { rows } = await router.query<{ id: string }>(INSERT, ['kept'])
      return { id: rows[0]!.id, token: (await router.token())! }
    })
    await c.waitForReplication()
    let lostToken: string | undefined
    await promoteBehindTheRouter(c, router, async () => {
      lostToken = await router.session(async () => {
        const { rows } = await router.query<{ port: number }>(INSERT, ['lost'])
        expect(rows[0]!.port).toBe(oldPort)
        return router.token()
      })
    })
    expect(lostToken).toMatch(/@1$/)
    expectWritesLost(
      await refusal(router.session(() => router.query('SELECT count(*) FROM items'), { token: lostToken })),
    )
    const readBack = await router.session(
      () => router.query('SELECT note FROM items WHERE id = $1', [kept.id]),
      { token: kept.token },
    )
    expect(readBack.rows).toEqual([{ note: 'kept' }])
  })

  for (const [role, grants, told] of [
    ['app_replication', 'REPLICATION', true],
    ['app_plain', '', false],
  ] as const) {
    it(`as a role ${told ? 'with REPLICATION only (TIMELINE_HISTORY)' : 'that may read no history (degraded: not told)'}: a token taken in the window ${told ? 'fails typed' : 'stands on the new timeline'}`, async (context) => {
      requireControl(context, 'promotes a replica beside a running primary')
      const c = await resources.cluster({ replicas: 1 })
      await c.primary.query(`CREATE ROLE ${role} LOGIN ${grants} PASSWORD 'pw';
        GRANT ALL ON items TO ${role}; GRANT USAGE ON SEQUENCE items_id_seq TO ${role}`)
      await c.waitForReplication()
      const router = await routerOverPrimary(c, role)
      let lostToken: string | undefined
      await promoteBehindTheRouter(
        c,
        router,
        async () => {
          lostToken = await router.session(async () => {
            await router.query(INSERT, ['lost'])
            return router.token()
          })
        },
        as(c.replicas[0]!.url, role),
      )
      const next = router.session(() => router.query('SELECT count(*) FROM items'), { token: lostToken })
      if (told) expectWritesLost(await refusal(next))
      else expect((await next).rows).toEqual([{ count: '0' }])
    })
  }
})
