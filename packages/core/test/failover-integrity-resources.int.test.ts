/**
 * Issue #20, items 7 and 9: `removeNode()` frees the node; learned routes expire on DDL that could change their
 * answer; `addNode()` takes a multi-host URL as `createRouter` does; a router that has ended says so.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, isPgRouteError } from '../src/index.js'
import { FAST_HEALTH, portOf, routerFor, WHO, waitForState } from './helpers/cluster-helpers.js'
import { sleep, TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

/** A full garbage collection (vitest does not start Node with --expose-gc). */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose_gc')
  ;(vm.runInNewContext('gc') as () => void)()
}

/** A pool used by `use` (or one query), then ended; only a weak reference to it is returned. */
async function usedPool(url: string, use?: (pool: pg.Pool) => Promise<void>): Promise<WeakRef<pg.Pool>> {
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  await (use ? use(pool) : pool.query('SELECT 1'))
  await pool.end()
  return new WeakRef(pool)
}

describe('removeNode()', () => {
  it('× 200: no removed node (nor the pool it was given) stays reachable from the router', async () => {
    const c = await resources.cluster({ replicas: 1 })
    const router = resources.router(createRouter({ primary: c.primary.url, healthCheck: FAST_HEALTH }))
    await router.ready()
    const pools: Array<WeakRef<pg.Pool>> = []
    // The control: pools used the same way but never given to the router must be collected.
    const control: Array<WeakRef<pg.Pool>> = []
    for (let i = 0; i < 5; i++) control.push(await usedPool(c.replicas[0]!.url))
    for (let i = 0; i < 200; i++) {
      pools.push(
        await usedPool(c.replicas[0]!.url, async (pool) => {
          await router.addNode({ name: `extra-${i}`, pool })
          await router.removeNode(`extra-${i}`)
        }),
      )
    }
    expect(router.status().map((row) => row.name)).toEqual([router.status()[0]!.name])
    // Let timers of the last removals run out, then collect.
    await sleep(1000)
    for (let round = 0; round < 3; round++) {
      collectGarbage()
      await sleep(50)
    }
    expect(control.filter((ref) => ref.deref() !== undefined)).toHaveLength(0)
    const retained = pools.filter((ref) => ref.deref() !== undefined).length
    expect(retained, 'removed nodes whose pool is still reachable').toBeLessThanOrEqual(2)
  })
})

describe('learned routes', () => {
  it('expire on DDL that could change the answer: after ALTER TABLE … SET LOGGED the reads go to replicas again', async () => {
    const c = await resources.cluster({ replicas: 1 })
    await c.primary.query('CREATE UNLOGGED TABLE scratch (id int); INSERT INTO scratch VALUES (1)')
    await c.waitForReplication()
    const router = resources.router(routerFor(c))
    await router.ready()
    const text = 'SELECT id, inet_server_port() AS port FROM scratch'
    // The replica refuses it (0A000: it has no unlogged data): re-run on the primary and learned.
    expect(portOf(await router.query(text))).toBe(c.primary.port)
    expect(router.reroutedStatements()).toMatchObject([{ learned: 'unlogged' }])

    expect(router.health().learnedRoutes).toEqual({ size: 1, learned: 1, expired: 0, invalidated: 0 })
    await router.query('ALTER TABLE scratch SET LOGGED')
    await c.waitForReplication()
    expect(router.health().learnedRoutes).toEqual({ size: 0, learned: 1, expired: 0, invalidated: 1 })
    const ports: number[] = []
    for (let i = 0; i < 200; i++) ports.push(portOf(await router.query(text)))
    expect(ports.filter((port) => port === c.primary.port).length, 'reads still sent to the primary').toBe(0)
  })
})

describe('small ones', () => {
  it('addNode() with a multi-host URL adds one node per host, as createRouter does', async () => {
    const c = await resources.cluster({ replicas: 2 })
    const router = resources.router(createRouter({ primary: c.primary.url, healthCheck: FAST_HEALTH }))
    await router.ready()
    const [a, b] = c.replicas.map((replica) => new URL(replica.url)) as [URL, URL]
    await router.addNode(`postgres://${a.username}:${a.password}@${a.host},${b.host}${a.pathname}${a.search}`)
    const added = router.status().slice(1)
    expect(added.map((row) => row.name)).toEqual([`${a.host}${a.pathname}`, `${b.host}${a.pathname}`])
    for (const row of added) await waitForState(router, row.name, 'up')
    const ports = new Set<number>()
    for (let i = 0; i < 20; i++) ports.add(portOf(await router.query(WHO)))
    expect([...ports].sort()).toEqual(c.replicas.map((replica) => replica.port).sort())
  })

  it('after end(): removeNode() and ready() fail with PGROUTE_CLOSED', async () => {
    const c = await resources.cluster({ replicas: 1 })
    const router = routerFor(c)
    await router.ready()
    await router.end()
    for (const call of [() => router.removeNode('replica-1'), () => router.ready()]) {
      const error = await call().then(
        () => new Error('resolved'),
        (e: unknown) => e,
      )
      expect(isPgRouteError(error), String(error)).toBe(true)
      expect(error).toMatchObject({ code: 'PGROUTE_CLOSED' })
    }
  })
})
