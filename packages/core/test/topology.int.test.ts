import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createRouter,
  isPgRouteError,
  type PrimaryChangedEvent,
  type RouteEvent,
  type Router,
} from '../src/index.js'
import { FAST_HEALTH, portOf, stateOf, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'

const clusters: Cluster[] = []
const routers: Router[] = []

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.end()))
  await Promise.all(clusters.splice(0).map((cluster) => cluster.stop()))
})

async function cluster(): Promise<Cluster> {
  const started = await startTestCluster({ replicas: 2 })
  clusters.push(started)
  await started.primary.query('CREATE TABLE items (id bigserial PRIMARY KEY, note text)')
  await started.waitForReplication()
  return started
}

function keep(router: Router): Router {
  routers.push(router)
  return router
}

/** The plain configuration of the issue: the configured primary and both replicas, every other option default. */
function plainRouter(c: Cluster, options: Record<string, unknown> = {}): Router {
  const [r1, r2] = c.replicas
  return keep(
    createRouter({
      primary: c.primary.url,
      replicas: [
        { name: 'replica-1', connectionString: r1!.url },
        { name: 'replica-2', connectionString: r2!.url },
      ],
      routeEvents: true,
      ...options,
    }),
  )
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** How many statements sleeping in `pg_sleep` run on `node` now. */
async function sleepingOn(node: Cluster['nodes'][number]): Promise<number> {
  const { rows } = await node.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%FROM pg_sleep(1)%' AND pid <> pg_backend_pid()`,
  )
  return rows[0]!.n
}

/** Writes a row in a session and returns its id and token (read back later from another session). */
async function writeSession(router: Router, note: string): Promise<{ id: string; token: string }> {
  return router.session(async () => {
    const { rows } = await router.query<{ id: string }>('INSERT INTO items (note) VALUES ($1) RETURNING id', [
      note,
    ])
    const token = await router.token()
    return { id: rows[0]!.id, token: token! }
  })
}

/** Reads the row back in a session continued from its token: false when stale (not found). */
async function readsBack(router: Router, written: { id: string; token: string }): Promise<boolean> {
  return router.session(
    async () => (await router.query('SELECT 1 FROM items WHERE id = $1', [written.id])).rowCount === 1,
    { token: written.token },
  )
}

/** Mixed load: plain reads and writes until stopped; write successes are timed. */
function mixedLoad(router: Router) {
  let stopped = false
  const readErrors: unknown[] = []
  const writes: Array<{ at: number; ok: boolean; error?: unknown }> = []
  const loops = [
    ...Array.from({ length: 3 }, async () => {
      while (!stopped) {
        await router.query('SELECT count(*) FROM items').catch((error: unknown) => readErrors.push(error))
        await sleep(5)
      }
    }),
    ...Array.from({ length: 2 }, async () => {
      while (!stopped) {
        const at = Date.now()
        await router.query('INSERT INTO items (note) VALUES ($1)', ['load']).then(
          () => writes.push({ at, ok: true }),
          (error: unknown) => writes.push({ at, ok: false, error }),
        )
        await sleep(10)
      }
    }),
  ]
  return {
    readErrors,
    writes,
    async stop() {
      stopped = true
      await Promise.all(loops)
    },
  }
}

describe('failover', () => {
  it('is followed under mixed load with the plain config: writes on the new primary once it is seen, no stale session', async (context) => {
    requireControl(context, 'promotes a replica')
    const c = await cluster()
    const router = plainRouter(c)
    const changes: Array<PrimaryChangedEvent & { at: number }> = []
    router.on('primary-changed', (event) => changes.push({ ...event, at: Date.now() }))
    await router.ready()
    let acquired = 0
    router.primary.on('acquire', () => acquired++)
    const oldPrimary = router.status()[0]!.name
    const written = await Promise.all(
      Array.from({ length: 200 }, (_, i) => writeSession(router, `before-${i}`)),
    )
    const load = mixedLoad(router)
    await sleep(1000)
    const promoted = c.replicas[0]!
    await c.promote(promoted) // stops the old primary first, re-points replica-2
    const acquiredBefore = acquired
    await waitFor(() => changes.length > 0, 20_000, 'the router to follow the promotion')
    await sleep(2000)
    await load.stop()

    expect(load.readErrors).toEqual([])
    // Every write started once the router saw the new primary succeeded (how soon it sees it is a chaos figure).
    const late = load.writes.filter((write) => write.at >= changes[0]!.at)
    expect(late.length).toBeGreaterThan(10)
    expect(late.filter((write) => !write.ok).map((write) => String(write.error))).toEqual([])
    // Writes that failed in between failed typed: PGROUTE_PRIMARY_UNAVAILABLE, whatever else went wrong.
    const failedWrites = load.writes.filter((w) => !w.ok).map((w) => w.error)
    expect(failedWrites.filter((error) => !isPgRouteError(error)).map(String)).toEqual([])
    expect(failedWrites.map((error) => (error as { code?: unknown }).code)).toEqual(
      failedWrites.map(() => 'PGROUTE_PRIMARY_UNAVAILABLE'),
    )
    expect(changes).toMatchObject([{ from: oldPrimary, to: 'replica-1', timeline: 2 }])
    expect(router.status()[0]).toMatchObject({ name: 'replica-1', role: 'primary', state: 'up', timeline: 2 })
    expect(portOf(await router.primary.query(WHO))).toBe(promoted.port)
    // router.primary's pool events are the new primary's pool's now.
    expect(acquired).toBeGreaterThan(acquiredBefore)

    const stale = (await Promise.all(written.map((w) => readsBack(router, w)))).filter((ok) => !ok)
    expect(stale).toHaveLength(0)
    // A session after the failover reads its own write (on timeline 2) back.
    const after = await writeSession(router, 'after')
    expect(after.token).toMatch(/@2$/)
    expect(await readsBack(router, after)).toBe(true)
  }, 90_000)

  it('with failover.waitMs, writes wait for the new primary instead of failing', async (context) => {
    requireControl(context, 'promotes a replica')
    const c = await cluster()
    const router = plainRouter(c, { failover: { waitMs: 15_000 }, healthCheck: FAST_HEALTH })
    await router.ready()
    const load = mixedLoad(router)
    await sleep(500)
    await c.promote(c.replicas[1]!)
    await sleep(3000)
    await load.stop()
    // A write in flight on the old primary when it stopped may fail (its outcome is unknown; reported as
    // PGROUTE_PRIMARY_UNAVAILABLE with the connection error as cause): nothing else, and none gave up waiting.
    const failed = load.writes.filter((write) => !write.ok)
    const gaveUp = failed.filter((write) => /within failover\.waitMs/.test(String(write.error)))
    expect(gaveUp).toEqual([])
    expect(
      failed.filter((write) => !isPgRouteError(write.error)).map((write) => String(write.error)),
    ).toEqual([])
    expect(failed.map((write) => (write.error as { code?: unknown }).code)).toEqual(
      failed.map(() => 'PGROUTE_PRIMARY_UNAVAILABLE'),
    )
    expect(failed.length).toBeLessThanOrEqual(2)
    expect(load.readErrors).toEqual([])
    expect(router.status()[0]!.name).toBe('replica-2')
  }, 90_000)
})

describe('split brain', () => {
  it('fences the old primary restarted read-write and the replica still following it; a rejoin brings it back', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const c = await cluster()
    const router = plainRouter(c)
    await router.ready()
    const oldPrimaryNode = c.primary
    const oldPrimary = router.status()[0]!.name
    const routed: Array<RouteEvent & { at: number }> = []
    router.on('route', (event) => routed.push({ ...event, at: Date.now() }))
    const written = await Promise.all(
      Array.from({ length: 50 }, (_, i) => writeSession(router, `before-${i}`)),
    )
    const load = mixedLoad(router)
    await sleep(500)
    await c.promote('replica-1', { follow: false })
    await sleep(2000)
    await oldPrimaryNode.startStandalone()
    const restartedAt = Date.now()
    await sleep(4000)
    await load.stop()

    const toFenced = routed.filter(
      (e) => e.at >= restartedAt && (e.node === oldPrimary || e.node === 'replica-2'),
    )
    expect(toFenced).toEqual([])
    expect(load.readErrors).toEqual([])
    expect(stateOf(router, oldPrimary)).toBe('fenced')
    expect(router.status().find((row) => row.name === oldPrimary)?.reason).toMatch(
      /claims primary on timeline 1, older than the cluster's timeline 2/,
    )
    expect(stateOf(router, 'replica-2')).toBe('fenced')
    expect(router.status()[0]).toMatchObject({ name: 'replica-1', role: 'primary' })
    const stale = (await Promise.all(written.map((w) => readsBack(router, w)))).filter((ok) => !ok)
    expect(stale).toHaveLength(0)

    // Re-seeded from the new primary, the old primary takes reads again once caught up.
    await c.rejoin(oldPrimaryNode)
    await waitForState(router, oldPrimary, 'up', 20_000)
    expect(router.status().find((row) => row.name === oldPrimary)).toMatchObject({
      role: 'replica',
      timeline: 2,
    })
    await waitFor(
      async () => {
        const ports = await Promise.all(
          Array.from({ length: 12 }, async () => portOf(await router.query(WHO))),
        )
        return ports.includes(oldPrimaryNode.port)
      },
      10_000,
      'reads on the rejoined node',
    )
  }, 120_000)
})

describe('multi-host connection strings', () => {
  it('make one node per host, the roles observed whatever the order', async () => {
    const c = await cluster()
    const urls = [c.replicas[1]!, c.primary, c.replicas[0]!].map((node) => new URL(node.url))
    const first = urls[0]!
    const hosts = urls.map((url) => `${url.hostname}:${url.port}`).join(',')
    const multi = `postgres://${first.username}:${first.password}@${hosts}${first.pathname}${first.search}`
    const router = keep(createRouter({ primary: multi, healthCheck: FAST_HEALTH }))
    await router.ready()
    expect(router.status().map((row) => [row.name, row.role, row.state])).toEqual([
      [`${urls[1]!.hostname}:${urls[1]!.port}${first.pathname}`, 'primary', 'up'],
      [`${urls[0]!.hostname}:${urls[0]!.port}${first.pathname}`, 'replica', 'up'],
      [`${urls[2]!.hostname}:${urls[2]!.port}${first.pathname}`, 'replica', 'up'],
    ])
    const { rows } = await router.query<{ port: number }>(
      "INSERT INTO items (note) VALUES ('multi') RETURNING inet_server_port() AS port",
    )
    expect(rows[0]!.port).toBe(c.primary.port)
    const ports = new Set<number>()
    for (let i = 0; i < 20; i++) ports.add(portOf(await router.query(WHO)))
    expect([...ports].sort()).toEqual([c.replicas[0]!.port, c.replicas[1]!.port].sort())
    expect(JSON.stringify(router.status())).not.toContain(first.password || '\u0000')
  }, 60_000)
})

describe('addNode / removeNode', () => {
  it('join and leave under load with 0 errors; a removed node is drained, not cut', async () => {
    const c = await cluster()
    const router = keep(createRouter({ primary: c.primary.url, healthCheck: FAST_HEALTH }))
    await router.ready()
    const reroutes: string[] = []
    router.on('reroute', (event) => reroutes.push(event.from))
    const load = mixedLoad(router)
    await router.addNode({ name: 'replica-1', connectionString: c.replicas[0]!.url })
    await router.addNode({ name: 'replica-2', connectionString: c.replicas[1]!.url })
    await waitForState(router, 'replica-1', 'up')
    await waitForState(router, 'replica-2', 'up')
    const ports = new Set<number>()
    for (let i = 0; i < 20; i++) ports.add(portOf(await router.query(WHO)))
    expect(ports).toContain(c.replicas[0]!.port)
    // Statements running on replica-1 while it is removed finish there. Six slow reads started in one go are
    // spread by round-robin over both replicas; each reports the server that ran it and when it ended there.
    const slowReads = Array.from({ length: 6 }, () =>
      router.query<{ port: number; ended: Date }>(
        'SELECT inet_server_port() AS port, clock_timestamp() AS ended FROM pg_sleep(1)',
      ),
    )
    await waitFor(
      async () => (await sleepingOn(c.replicas[0]!)) > 0,
      10_000,
      'a slow read running on replica-1',
    )
    const removing = router.removeNode('replica-1').then(() => new Date())
    const slow = await Promise.all(slowReads)
    const removed = await removing
    const onRemoved = slow.filter((result) => portOf(result) === c.replicas[0]!.port)
    expect(onRemoved.length).toBeGreaterThan(0) // ran to the end on the node being removed, not re-run elsewhere
    expect(reroutes.filter((from) => from === 'replica-1')).toEqual([])
    // removeNode() resolved only once they had finished.
    for (const result of onRemoved)
      expect(result.rows[0]!.ended.getTime()).toBeLessThanOrEqual(removed.getTime())
    await sleep(300)
    await load.stop()
    expect(load.readErrors).toEqual([])
    expect(load.writes.filter((write) => !write.ok)).toEqual([])
    expect(router.status().map((row) => row.name)).not.toContain('replica-1')
    for (let i = 0; i < 10; i++) expect(portOf(await router.query(WHO))).not.toBe(c.replicas[0]!.port)
    await expect(router.addNode({ name: 'replica-2', connectionString: c.replicas[0]!.url })).rejects.toThrow(
      /duplicate node name 'replica-2'/,
    )
    await expect(router.removeNode(router.status()[0]!.name)).rejects.toThrow(/is the primary/)
  }, 60_000)
})
