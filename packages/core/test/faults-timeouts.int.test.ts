import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPgRouteError, type RerouteEvent, type RouteEvent, type Router } from '../src/index.js'
import { failure, portOf, routerFor, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'

let cluster: Cluster
const routers: Router[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query('CREATE TABLE marks (id bigserial PRIMARY KEY, tag text)')
  await cluster.waitForReplication()
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await cluster?.stop()
})

function router(options: Parameters<typeof routerFor>[1] = {}): Router {
  const created = routerFor(cluster, options)
  routers.push(created)
  return created
}

async function sleepers(tag: string): Promise<number> {
  const { rows } = await cluster.primary.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%${tag}%' AND pid <> pg_backend_pid()`,
  )
  let total = rows[0]!.n
  for (const replica of cluster.replicas) {
    const result = await replica.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%${tag}%' AND pid <> pg_backend_pid()`,
    )
    total += result.rows[0]!.n
  }
  return total
}

/** Names of the nodes the router's `route` and `reroute` events mention, in order. */
function traced(routed: Router): { routes: RouteEvent[]; reroutes: RerouteEvent[] } {
  const routes: RouteEvent[] = []
  const reroutes: RerouteEvent[] = []
  routed.on('route', (event) => routes.push(event))
  routed.on('reroute', (event) => reroutes.push(event))
  return { routes, reroutes }
}

/** Waits until no server runs a statement containing `tag` any more. */
function noneRunning(tag: string): Promise<void> {
  return waitFor(async () => (await sleepers(tag)) === 0, 10_000, `no server to run '${tag}'`)
}

describe('time limits', () => {
  it('a read past timeouts.readMs is cancelled on the server and re-run elsewhere, then fails typed', async () => {
    const routed = router({ timeouts: { readMs: 300 }, retry: { retries: 2 }, routeEvents: true })
    const { routes, reroutes } = traced(routed)
    await routed.ready()
    // A minute's sleep: an attempt that were not cancelled would outlast the test.
    const error = await failure(routed.query("SELECT pg_sleep(60), 'read-limit' AS tag"))
    expect(error).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    // Three attempts, each on another node: both replicas, then the primary.
    const names = routed.status().map((row) => row.name)
    expect(routes.map((event) => event.node)).toEqual([expect.any(String), expect.any(String), names[0]])
    expect(new Set(routes.slice(0, 2).map((event) => event.node))).toEqual(new Set(names.slice(1)))
    expect(reroutes.map((event) => event.from)).toEqual(routes.map((event) => event.node))
    await noneRunning('read-limit') // cancelled on the servers, not left running
    expect((await routed.query(WHO)).rows).toHaveLength(1)
  })

  it('a write past timeouts.writeMs is cancelled, fails PGROUTE_TIMEOUT and is never re-run', async () => {
    const routed = router({ timeouts: { writeMs: 1000 }, routeEvents: true })
    await routed.ready()
    // An idle connection on the primary: the limit then runs out while the write runs, not while a loaded machine
    // opens a connection (the limit covers the checkout too, and a write cut there is never sent).
    await routed.primary.query('SELECT 1')
    const { routes, reroutes } = traced(routed)
    const error = await failure(routed.query("INSERT INTO marks (tag) SELECT 'write-limit' FROM pg_sleep(5)"))
    expect(error).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    expect(routes).toHaveLength(1)
    expect(reroutes).toEqual([])
    // Gone from the server (cancelled), and its row never committed (it would have after 5 s).
    await noneRunning('write-limit')
    const { rows } = await cluster.primary.query("SELECT 1 FROM marks WHERE tag = 'write-limit'")
    expect(rows).toHaveLength(0)
  })
})

describe('a hung replica', () => {
  it('reads running on it when it is marked down are re-run elsewhere at once', async (context) => {
    requireControl(context, 'hangs a replica')
    const victim = cluster.replicas[0]!
    const routed = router({ timeouts: { readMs: 0 }, pool: { max: 4 }, routeEvents: true })
    const { routes, reroutes } = traced(routed)
    await routed.ready()
    // Idle connections on both replicas: the reads below start on the hung server's open connections.
    await Promise.all(Array.from({ length: 8 }, () => routed.query(WHO)))
    routes.length = 0
    await victim.hang()
    try {
      // Every read settles while the replica still hangs: none waits for it to answer.
      const reads = await Promise.all(Array.from({ length: 12 }, () => routed.query(WHO)))
      for (const result of reads) expect(portOf(result)).not.toBe(victim.port)
      // Some of them did run on the hung replica (round-robin), and were re-run from there once it was marked down.
      expect(routes.filter((event) => event.node === victim.name).length).toBeGreaterThan(0)
      expect(reroutes.filter((event) => event.from === victim.name).length).toBeGreaterThan(0)
      expect(victim.hung).toBe(true)
    } finally {
      await victim.resume()
    }
    await waitForState(routed, victim.name, 'up')
  })
})

describe('a hung replica, in a session', () => {
  it("a session's reads running on it when it is marked down are re-run elsewhere at once", async (context) => {
    requireControl(context, 'hangs a replica')
    const victim = cluster.replicas[1]!
    const routed = router({ timeouts: { readMs: 0 }, pool: { max: 4 } })
    await routed.ready()
    await waitForState(routed, victim.name, 'up')
    await victim.hang()
    try {
      const started = Date.now()
      // A session's read takes the slow path from its first attempt: a failure there is decided as any read's.
      const reads = await routed.session(() =>
        Promise.all(Array.from({ length: 12 }, () => routed.query(WHO))),
      )
      for (const result of reads) expect(portOf(result)).not.toBe(victim.port)
      expect(Date.now() - started).toBeLessThan(2500)
    } finally {
      await victim.resume()
    }
    await waitForState(routed, victim.name, 'up')
  })
})

describe('a primary that is down', () => {
  it('hung: writes fail with PGROUTE_PRIMARY_UNAVAILABLE while it hangs, and succeed once it answers again', async (context) => {
    requireControl(context, 'hangs the primary')
    const routed = router()
    await routed.ready()
    const name = routed.status()[0]!.name
    await cluster.primary.hang()
    try {
      await waitForState(routed, name, 'down', 10_000)
      // Settles while the primary still hangs (it is resumed only below): the write never waits for it.
      const error = await failure(routed.query("INSERT INTO marks (tag) VALUES ('while-hung')"))
      expect(cluster.primary.hung).toBe(true)
      expect(isPgRouteError(error)).toBe(true)
      expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
      expect((error as Error).cause).toBeDefined()
      expect((await routed.query(WHO)).rows).toHaveLength(1) // reads still served by the replicas
    } finally {
      await cluster.primary.resume()
    }
    await waitForState(routed, name, 'up')
    await routed.query("INSERT INTO marks (tag) VALUES ('after-hang')")
  })

  it('killed: writes fail at once with PGROUTE_PRIMARY_UNAVAILABLE (cause: the connection error)', async (context) => {
    requireControl(context, 'kills the primary')
    const routed = router()
    await routed.ready()
    const name = routed.status()[0]!.name
    await cluster.primary.kill()
    try {
      const error = await failure(routed.query("INSERT INTO marks (tag) VALUES ('while-dead')"))
      expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
      expect((error as Error).cause).toBeInstanceOf(Error)
      await waitForState(routed, name, 'down')
      const again = await failure(routed.query("INSERT INTO marks (tag) VALUES ('while-dead')"))
      expect(again).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
    } finally {
      await cluster.primary.start()
    }
    await waitForState(routed, name, 'up', 20_000)
    await routed.query("INSERT INTO marks (tag) VALUES ('after-restart')")
  })
})

describe("a session read that needs the primary's WAL position", () => {
  it("waits while the primary restarts, then reads the session's write (read retries spanning the restart)", async (context) => {
    requireControl(context, 'kills the primary')
    // The position lookup waits for the primary. The position then comes from the restarted primary, past its
    // end-of-recovery record, which no replica has yet: the read goes to the primary, which the router may still
    // hold down for a moment. A read does not wait for a primary (failover.waitMs is for writes): its retries
    // must span that moment.
    const routed = router({ retry: { retries: 10, minTimeoutMs: 100, maxTimeoutMs: 400 } })
    await routed.ready()
    const name = routed.status()[0]!.name
    await routed.session(async () => {
      await routed.query("INSERT INTO marks (tag) VALUES ('before-restart')")
      // The position is fetched lazily, by the next read: the primary is gone by then.
      await cluster.primary.kill()
      const restarted = new Promise((resolve) => setTimeout(resolve, 1000)).then(() =>
        cluster.primary.start(),
      )
      try {
        const { rows } = await routed.query("SELECT tag FROM marks WHERE tag = 'before-restart'")
        expect(rows).toHaveLength(1)
      } finally {
        await restarted
      }
    })
    await waitForState(routed, name, 'up', 20_000)
  })
})

describe('a transaction whose node hangs under its body', () => {
  it('read-write: fails PGROUTE_PRIMARY_UNAVAILABLE soon after the primary is marked down; nothing is committed', async (context) => {
    requireControl(context, 'hangs the primary')
    const routed = router()
    await routed.ready()
    const name = routed.status()[0]!.name
    const transaction = failure(
      routed.transaction(async (client) => {
        await client.query("INSERT INTO marks (tag) VALUES ('tx-hung')")
        await cluster.primary.hang()
        await client.query('SELECT 1')
      }),
    )
    try {
      // Noticed by a probe, then the primary's 800 ms budget: it fails while the primary still hangs.
      const error = await transaction
      expect(cluster.primary.hung).toBe(true)
      expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
    } finally {
      await cluster.primary.resume()
    }
    await waitForState(routed, name, 'up')
    const { rows } = await cluster.primary.query("SELECT 1 FROM marks WHERE tag = 'tx-hung'")
    expect(rows).toHaveLength(0)
    expect(await routed.transaction((client) => client.query(WHO).then(portOf))).toBe(cluster.primary.port)
  })

  it('read-only: goes on when its replica was only suspected (one connection lost, the probe clears it)', async (context) => {
    requireControl(context, 'terminates a backend')
    const routed = router()
    await routed.ready()
    await Promise.all(Array.from({ length: 8 }, () => routed.query(WHO))) // idle pool connections on both replicas
    const downs: string[] = []
    routed.on('node-state', (event) => event.to === 'down' && downs.push(event.node))
    let replica: Cluster['replicas'][number] | undefined
    const value = await routed.transaction(
      async (client) => {
        const port = portOf(await client.query(WHO))
        replica = cluster.replicas.find((node) => node.port === port)
        // An idle pool connection of the same replica loses its server: the replica is suspect, and probed.
        await replica!.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend'
             AND state = 'idle' AND pid <> pg_backend_pid() AND application_name NOT LIKE 'pgroute-%'`,
        )
        const { rows } = await client.query('SELECT 1 AS one FROM pg_sleep(1.2)')
        return rows[0].one as number
      },
      { readOnly: true },
    )
    expect(value).toBe(1)
    // The probe answered: the replica was never marked down.
    expect(downs).toEqual([])
    await waitForState(routed, replica!.name, 'up')
  })

  it('read-only: fails PGROUTE_NODE_DOWN once its replica stays marked down (hung)', async (context) => {
    requireControl(context, 'hangs a replica')
    const routed = router()
    await routed.ready()
    let victim: Cluster['replicas'][number] | undefined
    const transaction = failure(
      routed.transaction(
        async (client) => {
          const port = portOf(await client.query(WHO))
          victim = cluster.replicas.find((replica) => replica.port === port)
          await victim!.hang()
          await client.query('SELECT 1')
        },
        { readOnly: true },
      ),
    )
    try {
      const error = await transaction
      expect(victim?.hung).toBe(true) // settled while the replica still hangs
      expect(error).toMatchObject({ code: 'PGROUTE_NODE_DOWN' })
      expect((await routed.query(WHO)).rows).toHaveLength(1) // the other replica serves reads meanwhile
    } finally {
      await victim?.resume()
    }
    await waitForState(routed, victim!.name, 'up')
  })
})
