import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/config/resolve-options.js'
import { NodeLink } from '../src/health/node-link.js'
import { NodeProbe } from '../src/health/node-probe.js'
import { isPgRouteError, type NodeStateEvent, type Router } from '../src/index.js'
import { failure, portOf, routerFor, WHO } from './helpers/cluster-helpers.js'

let cluster: Cluster
const routers: Router[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query('CREATE TABLE notes (id bigserial PRIMARY KEY, body text)')
  await cluster.waitForReplication()
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await cluster?.stop()
})

function tracked(options: Parameters<typeof routerFor>[1] = {}): { router: Router; downs: NodeStateEvent[] } {
  const router = routerFor(cluster, options)
  routers.push(router)
  const downs: NodeStateEvent[] = []
  router.on('node-state', (event) => {
    if (event.to === 'down') downs.push(event)
  })
  return { router, downs }
}

describe('errors about a statement never mark a node down', () => {
  it("error texts as bind values fail with the server's error; honest reads meanwhile all succeed", async () => {
    const { router, downs } = tracked({ fallback: 'error' })
    await router.ready()
    const texts = ['Connection terminated', 'Connection terminated unexpectedly', 'timeout expired']
    const hostile = texts.flatMap((text) =>
      Array.from({ length: 5 }, () => failure(router.query('SELECT $1::int', [text]))),
    )
    const honest = Array.from({ length: 40 }, () => router.query(WHO))
    const errors = await Promise.all(hostile)
    for (const error of errors) expect(error).toMatchObject({ code: '22P02', severity: 'ERROR' })
    expect((await Promise.all(honest)).every((result) => portOf(result) > 0)).toBe(true)
    expect(downs).toEqual([])
  })

  it('a NUL byte in a literal fails the statement only (SQLSTATE as pg raises it), not the node', async () => {
    const { router, downs } = tracked()
    await router.ready()
    const error = await failure(router.query("SELECT 'a\u0000b' AS v"))
    expect(error).toMatchObject({ code: '08P01' })
    expect(isPgRouteError(error)).toBe(false)
    expect((await router.query(WHO)).rows).toHaveLength(1)
    expect(downs).toEqual([])
  })
})

describe('a replica without free connection slots', () => {
  it('is busy, not down: reads that need a new connection there go to another node', async (context) => {
    requireControl(context, 'occupies the connection slots of a replica')
    const { router, downs } = tracked({ pool: { max: 20 } })
    await router.ready()
    const victim = cluster.replicas[0]!
    const other = cluster.replicas[1]!
    const held = await victim.occupyConnections()
    const ports: number[] = []
    try {
      // Bursts wider than any idle pool: new connections to the victim are refused with 53300.
      for (let burst = 0; burst < 5; burst++) {
        const results = await Promise.all(Array.from({ length: 24 }, () => router.query(WHO)))
        ports.push(...results.map(portOf))
      }
    } finally {
      await held.release()
    }
    expect(ports.filter((port) => port === victim.port)).toEqual([])
    // The other replica takes them (the primary only as the fallback), not the primary for everything.
    expect(ports.filter((port) => port === other.port).length).toBeGreaterThan(ports.length / 2)
    expect(downs.filter((event) => event.node === victim.name)).toEqual([])
  })
})

describe('the router never borrows the application pool for its own queries', () => {
  it('token() answers while the only connection of the primary pool is pinned by a transaction', async () => {
    const { router } = tracked({ pool: { max: 1, connectionTimeoutMillis: 2000 } })
    await router.ready()
    const token = await router.session(async () => {
      await router.query("INSERT INTO notes (body) VALUES ('before')")
      const client = await router.primary.connect()
      try {
        await client.query('BEGIN')
        await client.query("INSERT INTO notes (body) VALUES ('pinned')")
        // The session wrote: the primary's WAL position is looked up, on the router's own connection. Through the
        // pool it would wait for the pinned connection and fail after connectionTimeoutMillis.
        return await router.token()
      } finally {
        await client.query('ROLLBACK')
        client.release()
      }
    })
    expect(token).toMatch(/^[0-9A-F]+\/[0-9A-F]+@\d+$/)
  })
})

describe('waiting for a replica to replay', () => {
  it('holds none of its connections: other reads get them meanwhile', async (context) => {
    requireControl(context, 'pauses replay on the replicas')
    const { router } = tracked({ pool: { max: 1 }, readYourWrites: { maxWaitMs: 3000 } })
    await router.ready()
    await Promise.all(cluster.replicas.map((replica) => replica.pauseReplay()))
    try {
      const waiting = router.session(async () => {
        await router.query("INSERT INTO notes (body) VALUES ('unreplayed')")
        const { rows } = await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
        return rows[0]?.r
      })
      let settled = false
      waiting.finally(() => {
        settled = true
      })
      await new Promise((resolve) => setTimeout(resolve, 200)) // the session read is polling the replicas now
      const others = await Promise.all(Array.from({ length: 6 }, () => router.query(WHO)))
      // Pools of one connection per replica, not held by the waiting read: the others are served while it waits.
      expect(settled).toBe(false)
      for (const result of others) expect(cluster.replicas.map((r) => r.port)).toContain(portOf(result))
      expect(await waiting).toBe(false) // no replica caught up in time: the primary served it
    } finally {
      await Promise.all(cluster.replicas.map((replica) => replica.resumeReplay()))
    }
  })
})

describe('tokens are untrusted input', () => {
  it('a forged token ahead of the primary is clamped: reads go to replicas, token() does not hand it back', async () => {
    const { router } = tracked()
    await router.ready()
    const forged = 'FFFFFFFF/FFFFFFFF'
    const [inRecovery, token] = await router.session(
      async () => {
        const { rows } = await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
        return [rows[0]?.r, await router.token()] as const
      },
      { token: forged },
    )
    expect(inRecovery).toBe(true)
    expect(token).not.toBe(forged)
    const primary = await cluster.primary.query<{ lsn: string }>(
      'SELECT pg_current_wal_insert_lsn()::text AS lsn',
    )
    expect(token).toBeDefined()
    const [hi, lo] = token!
      .split('@')[0]!
      .split('/')
      .map((half) => BigInt(`0x${half}`))
    const [phi, plo] = primary.rows[0]!.lsn.split('/').map((half) => BigInt(`0x${half}`))
    expect((hi! << 32n) | lo!).toBeLessThanOrEqual((phi! << 32n) | plo!)
  })

  it('malformed and non-string tokens get PGROUTE_INVALID_TOKEN', async () => {
    const { router } = tracked()
    for (const token of ['garbage', '1/2/3', 'FFFFFFFFF/0', Object.create(null), 42, {}]) {
      const error = await failure(router.session(async () => {}, { token: token as string }))
      expect(error).toMatchObject({ code: 'PGROUTE_INVALID_TOKEN' })
    }
  })
})

describe('probes', () => {
  it('overlapping probes of one node share one statement (never two at once on its connection)', async () => {
    const spec = resolveOptions({ primary: cluster.primary.url }).nodes[0]!
    const link = new NodeLink(spec, { connectTimeoutMs: 2000 })
    const probe = new NodeProbe(link, 2000)
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(warning.message)
    process.on('warning', onWarning)
    try {
      const first = probe.read()
      const second = probe.read()
      expect(second).toBe(first)
      expect((await first).inRecovery).toBe(false)
      const [third, fourth] = await Promise.all([probe.read(), probe.read()])
      expect(third).toBe(fourth)
    } finally {
      process.off('warning', onWarning)
      await link.close()
      await spec.pool.end()
    }
    expect(warnings.filter((message) => message.includes('already executing'))).toEqual([])
  })
})
