import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPgRouteError, type Router } from '../src/index.js'
import { failure, portOf, routerFor, WHO, waitForState } from './helpers/cluster-helpers.js'

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

describe('time limits', () => {
  it('a read past timeouts.readMs is cancelled on the server and re-run elsewhere, then fails typed', async () => {
    const routed = router({ timeouts: { readMs: 300 }, retry: { retries: 2 } })
    await routed.ready()
    const started = Date.now()
    const error = await failure(routed.query("SELECT pg_sleep(5), 'read-limit' AS tag"))
    const took = Date.now() - started
    expect(error).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    // Three attempts of 300 ms, each checked by a timer of a quarter of that.
    expect(took).toBeLessThan(3000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await sleepers('read-limit')).toBe(0) // cancelled on the servers, not left running
    expect((await routed.query(WHO)).rows).toHaveLength(1)
  })

  it('a write past timeouts.writeMs is cancelled, fails PGROUTE_TIMEOUT and is never re-run', async () => {
    const routed = router({ timeouts: { writeMs: 300 } })
    await routed.ready()
    const started = Date.now()
    const error = await failure(routed.query("INSERT INTO marks (tag) SELECT 'write-limit' FROM pg_sleep(3)"))
    expect(error).toMatchObject({ code: 'PGROUTE_TIMEOUT' })
    expect(Date.now() - started).toBeLessThan(2000)
    await new Promise((resolve) => setTimeout(resolve, 3500))
    const { rows } = await cluster.primary.query("SELECT 1 FROM marks WHERE tag = 'write-limit'")
    expect(rows).toHaveLength(0)
  })
})

describe('a hung replica', () => {
  it('reads running on it when it is marked down are re-run elsewhere at once', async (context) => {
    requireControl(context, 'hangs a replica')
    const victim = cluster.replicas[0]!
    const routed = router({ timeouts: { readMs: 0 }, pool: { max: 4 } })
    await routed.ready()
    await victim.hang()
    try {
      const started = Date.now()
      const reads = await Promise.all(Array.from({ length: 12 }, () => routed.query(WHO)))
      const took = Date.now() - started
      for (const result of reads) expect(portOf(result)).not.toBe(victim.port)
      // One probe interval and timeout to notice; nothing waits for the hang to end.
      expect(took).toBeLessThan(2500)
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
  it('hung: writes fail within 1 s with PGROUTE_PRIMARY_UNAVAILABLE, and succeed once it answers again', async (context) => {
    requireControl(context, 'hangs the primary')
    const routed = router()
    await routed.ready()
    const name = routed.status()[0]!.name
    await cluster.primary.hang()
    try {
      await waitForState(routed, name, 'down', 5000)
      const started = Date.now()
      const error = await failure(routed.query("INSERT INTO marks (tag) VALUES ('while-hung')"))
      expect(Date.now() - started).toBeLessThan(1000)
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
      const started = Date.now()
      const error = await failure(routed.query("INSERT INTO marks (tag) VALUES ('while-dead')"))
      expect(Date.now() - started).toBeLessThan(1000)
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
  it("waits while the primary restarts, then reads the session's write", async (context) => {
    requireControl(context, 'kills the primary')
    const routed = router()
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
    let hungAt = 0
    const transaction = failure(
      routed.transaction(async (client) => {
        await client.query("INSERT INTO marks (tag) VALUES ('tx-hung')")
        await cluster.primary.hang()
        hungAt = Date.now()
        await client.query('SELECT 1')
      }),
    )
    try {
      const error = await transaction
      // Noticed by a probe (interval 200 ms, timeout 150 ms), then the primary's 800 ms budget.
      expect(Date.now() - hungAt).toBeLessThan(3000)
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
    let hungAt = 0
    let victim: Cluster['replicas'][number] | undefined
    const transaction = failure(
      routed.transaction(
        async (client) => {
          const port = portOf(await client.query(WHO))
          victim = cluster.replicas.find((replica) => replica.port === port)
          await victim!.hang()
          hungAt = Date.now()
          await client.query('SELECT 1')
        },
        { readOnly: true },
      ),
    )
    try {
      const error = await transaction
      expect(Date.now() - hungAt).toBeLessThan(2500)
      expect(error).toMatchObject({ code: 'PGROUTE_NODE_DOWN' })
      expect((await routed.query(WHO)).rows).toHaveLength(1) // the other replica serves reads meanwhile
    } finally {
      await victim?.resume()
    }
    await waitForState(routed, victim!.name, 'up')
  })
})
