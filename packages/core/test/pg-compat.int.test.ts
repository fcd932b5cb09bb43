import type { Cluster } from '@pgroute/cluster'
import { startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import Cursor from 'pg-cursor'
import QueryStream from 'pg-query-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPgRouteError, type Router } from '../src/index.js'
import { failure, portOf, routerFor, WHO, waitForState } from './helpers/cluster-helpers.js'

/**
 * What code written for `pg.Pool` does with `router.pool` (and `router.query`), row by row of issue #19's table.
 * Every test here ends its own router within a bound: on code that leaks a connection, `end()` never resolves.
 */

let cluster: Cluster
let replicaPort: number

beforeAll(async () => {
  // The replica replays 2 s late: a read that must see a write made just before cannot be served by it.
  cluster = await startTestCluster({ replicas: 1, replicaOptions: [{ applyDelay: '2s' }] })
  replicaPort = cluster.replicas[0]!.port
  await cluster.primary.query('CREATE TABLE IF NOT EXISTS marks (id serial PRIMARY KEY, at timestamp)')
  await cluster.waitForReplication()
})

afterAll(async () => {
  await cluster?.stop()
})

/** `promise`, or a rejection naming `what` after `ms`: a call that never settles fails the test instead of hanging. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** A router for one test, ended (within a bound) after it. */
async function withRouter(
  options: Parameters<typeof routerFor>[1],
  test: (router: Router) => Promise<void>,
): Promise<void> {
  const router = routerFor(cluster, options)
  try {
    await router.ready()
    // The replica's first probe may find it a little behind (it replays late): reads go there once it is up.
    if (router.status().length > 1) await waitForState(router, cluster.replicas[0]!.name, 'up')
    await test(router)
  } finally {
    await within(router.end(), 5000, 'router.end()')
  }
}

/** Statements running or connections checked out on any node of `router`. */
function busy(router: Router): number {
  return (
    router.status().reduce((sum, row) => sum + row.inFlight, 0) +
    router.pool.totalCount -
    router.pool.idleCount
  )
}

describe('submittables on router.query and router.pool.query, as pg.Pool runs them', () => {
  it('runs a pg-cursor read on a replica and gives its connection back once the cursor is closed', async () => {
    await withRouter({}, async (router) => {
      const cursor = new Cursor('SELECT g AS n, inet_server_port() AS port FROM generate_series(1, 10) g')
      const done = router.query(cursor as never)
      const rows = await within(cursor.read(100), 5000, 'cursor.read()')
      expect(rows.map((row) => row.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(Number(rows[0].port)).toBe(replicaPort)
      await cursor.close()
      await within(done, 5000, 'router.query(cursor)')
      expect(busy(router)).toBe(0)
    })
  })

  it('streams a pg-query-stream through router.pool.query, settling with pg.Pool once the stream ends', async () => {
    await withRouter({}, async (router) => {
      const stream = new QueryStream(
        'SELECT g AS n, inet_server_port() AS port FROM generate_series(1, 50) g',
      )
      const done = router.pool.query(stream as never) as unknown as Promise<unknown>
      const rows: Array<{ n: number; port: number }> = []
      for await (const row of stream) rows.push(row as { n: number; port: number })
      await within(done, 5000, 'router.pool.query(stream)')
      expect(rows.map((row) => row.n)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      expect(Number(rows[0]!.port)).toBe(replicaPort)
      expect(busy(router)).toBe(0)
    })
  })

  it('runs a stream that writes on the primary and marks the session, so the next read sees the write', async () => {
    await withRouter({}, async (router) => {
      await router.session(async () => {
        const stream = new QueryStream(
          'INSERT INTO marks DEFAULT VALUES RETURNING id, inet_server_port() AS port',
        )
        const done = router.query(stream as never)
        const rows: Array<{ id: number; port: number }> = []
        for await (const row of stream) rows.push(row as { id: number; port: number })
        await within(done, 5000, 'router.query(stream)')
        expect(Number(rows[0]!.port)).toBe(cluster.primary.port)
        // The replica replays 2 s late: only a session that knows of the write sends this read elsewhere.
        const seen = await router.query('SELECT id FROM marks WHERE id = $1', [rows[0]!.id])
        expect(seen.rows).toHaveLength(1)
      })
    })
  })

  it('a cursor on a pinned client is a statement of the session too', async () => {
    await withRouter({}, async (router) => {
      await router.session(async () => {
        const client = await router.pool.connect()
        let id: number
        try {
          const stream = client.query(new QueryStream('INSERT INTO marks DEFAULT VALUES RETURNING id'))
          const rows: Array<{ id: number }> = []
          for await (const row of stream) rows.push(row as { id: number })
          id = rows[0]!.id
        } finally {
          client.release()
        }
        const seen = await router.query('SELECT id FROM marks WHERE id = $1', [id])
        expect(seen.rows).toHaveLength(1)
      })
    })
  })

  it('holds a cursor on a pinned client to the time limit of reads', async () => {
    await withRouter({ timeouts: { readMs: 300 } }, async (router) => {
      const client = await router.pool.connect()
      try {
        await client.query('SELECT 1') // pins a replica
        const cursor = client.query(new Cursor('SELECT pg_sleep(5)'))
        const started = Date.now()
        const error = await failure(within(cursor.read(1), 4000, 'cursor.read()'))
        expect(isPgRouteError(error) && error.code).toBe('PGROUTE_TIMEOUT')
        expect(Date.now() - started).toBeLessThan(3000)
      } finally {
        client.release(true)
      }
    })
  })
})

describe("router.pool's pool events", () => {
  it("emits connect, acquire and release for connections of every node, with pg-pool's arguments and the node", async () => {
    await withRouter({}, async (router) => {
      const seen: Array<{ event: string; client: unknown; node: unknown }> = []
      for (const event of ['connect', 'acquire'] as const)
        router.pool.on(event, (client: pg.PoolClient, node: string) => seen.push({ event, client, node }))
      router.pool.on('release', (error: Error | undefined, client: pg.PoolClient, node: string) => {
        expect(error).toBeFalsy()
        seen.push({ event: 'release', client, node })
      })
      const primaryName = router.status()[0]!.name
      expect(portOf(await router.query(WHO))).toBe(replicaPort)
      await router.query('INSERT INTO marks DEFAULT VALUES')
      for (const event of ['connect', 'acquire', 'release']) {
        const nodes = seen.filter((e) => e.event === event).map((e) => e.node)
        expect(new Set(nodes)).toEqual(new Set([primaryName, cluster.replicas[0]!.name]))
      }
      expect(seen.every((e) => e.client instanceof pg.Client)).toBe(true)
    })
  })

  it('router.primary emits the events of the primary only', async () => {
    await withRouter({}, async (router) => {
      const acquired: string[] = []
      router.primary.on('acquire', (_client: pg.PoolClient, node: string) => acquired.push(node))
      await router.query(WHO)
      await router.primary.query(WHO)
      expect(acquired).toEqual([router.status()[0]!.name])
    })
  })
})

describe('the types option', () => {
  const TIMESTAMP = 1114
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === TIMESTAMP
        ? (value: string) => `parsed ${value}`
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  }
  const SQL = `SELECT '2020-01-02 03:04:05'::timestamp AS t, inet_server_port() AS port`

  it("applies pg's types to every node's pool, a node added later included", async () => {
    await withRouter({ types, replicas: [] }, async (router) => {
      const expected = 'parsed 2020-01-02 03:04:05'
      expect((await router.query(SQL)).rows[0]!.t).toBe(expected)
      expect((await router.primary.query(SQL)).rows[0]!.t).toBe(expected)
      await router.addNode({ name: 'added', connectionString: cluster.replicas[0]!.url })
      const read = await router.query(SQL)
      expect(Number(read.rows[0]!.port)).toBe(replicaPort)
      expect(read.rows[0]!.t).toBe(expected)
      const client = await router.pool.connect()
      try {
        expect((await client.query(SQL)).rows[0]!.t).toBe(expected)
      } finally {
        client.release()
      }
    })
  })
})
