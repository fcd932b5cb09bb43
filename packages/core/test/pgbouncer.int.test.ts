/**
 * The router behind PgBouncer 1.18 (the system's `pgbouncer`, e.g. Debian's package) with its default settings,
 * one PgBouncer per node: the router's own connections (health probes, read-your-writes look-ups) must pass
 * PgBouncer's checks and leave nothing behind on its shared server connections. Skipped, with the reason, where
 * pgbouncer is not installed.
 */
import {
  type Cluster,
  type PgBouncerFleet,
  type PoolMode,
  pgbouncerUnavailable,
  startCluster,
  startPgBouncer,
  tlsUnavailable,
} from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { waitFor } from './helpers/cluster-helpers.js'

/** Probes with room for a TLS or PgBouncer login on a busy machine (FAST_HEALTH gives a probe 150 ms, login included). */
const HEALTH = { intervalMs: 500, timeoutMs: 400, maxBackoffMs: 1000 } as const

const missing = pgbouncerUnavailable()
let cluster: Cluster

beforeAll(async () => {
  if (missing) return
  // replica-2 replays 1 s late (local clusters): a session read that escaped read-your-writes would see it stale.
  cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '1s' }] })
  await cluster.primary.query('CREATE TABLE pgb_rows (key text PRIMARY KEY, at timestamptz DEFAULT now())')
  await cluster.waitForReplication({ replicas: cluster.replicas, timeoutMs: 10_000 })
})

afterAll(async () => {
  await cluster?.stop()
})

/** A router over every node, each through its PgBouncer, probing fast. */
function routerThrough(bouncers: PgBouncerFleet): Router {
  return createRouter({
    primary: bouncers.node('primary').url,
    replicas: cluster.replicas.map((replica) => ({
      name: replica.name,
      connectionString: bouncers.node(replica.name).url,
    })),
    healthCheck: HEALTH,
    // Both replicas take reads, the late one too: only read-your-writes keeps sessions from stale rows.
    lag: { maxBytes: Number.POSITIVE_INFINITY, maxSeconds: Number.POSITIVE_INFINITY },
  })
}

/** What the mixed load saw. */
interface LoadTally {
  calls: number
  errors: string[]
  stale: number
  replicaReads: number
}

/**
 * 8 workers for `ms`: each round a read-your-writes session (write, read it back), a session resumed from the
 * previous one's token (read it back), a plain read, and a transaction writing and reading on one connection.
 */
async function mixedLoad(router: Router, ms: number): Promise<LoadTally> {
  const tally: LoadTally = { calls: 0, errors: [], stale: 0, replicaReads: 0 }
  const replicaPorts = new Set(cluster.replicas.map((replica) => replica.port))
  const until = Date.now() + ms
  const attempt = async (call: () => Promise<void>) => {
    tally.calls++
    try {
      await call()
    } catch (error) {
      tally.errors.push(`${(error as { code?: string }).code ?? ''} ${(error as Error).message}`)
    }
  }
  const found = async (key: string) => {
    const { rows } = await router.query<{ n: number; port: number }>(
      'SELECT count(*)::int AS n, inet_server_port() AS port FROM pgb_rows WHERE key = $1',
      [key],
    )
    if (replicaPorts.has(Number(rows[0]?.port))) tally.replicaReads++
    if (rows[0]?.n !== 1) tally.stale++
  }
  const worker = async (id: number) => {
    for (let round = 0; Date.now() < until; round++) {
      const key = `w${id}-${round}-${process.hrtime.bigint()}`
      let token: string | undefined
      await attempt(() =>
        router.session(async () => {
          await router.query('INSERT INTO pgb_rows (key) VALUES ($1)', [key])
          await found(key)
          token = await router.token()
        }),
      )
      await attempt(() => router.session(() => found(key), { token: token! }))
      await attempt(async () => {
        await router.query('SELECT count(*) FROM pgb_rows')
      })
      await attempt(() =>
        router.transaction(async (tx) => {
          await tx.query('INSERT INTO pgb_rows (key) VALUES ($1)', [`${key}-tx`])
          const { rows } = await tx.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pgb_rows WHERE key = $1',
            [`${key}-tx`],
          )
          if (rows[0]?.n !== 1) tally.stale++
        }),
      )
    }
  }
  await Promise.all(Array.from({ length: 8 }, (_, id) => worker(id)))
  return tally
}

/**
 * `statement_timeout` as 25 fresh transactions of plain clients through PgBouncer see it, all at once: more than
 * `default_pool_size` (20), so every server connection of the pool serves one of them.
 */
async function timeoutsSeenThrough(url: string): Promise<string[]> {
  return Promise.all(
    Array.from({ length: 25 }, async () => {
      const client = new pg.Client({ connectionString: url })
      client.on('error', () => {})
      await client.connect()
      try {
        await client.query('BEGIN')
        const { rows } = await client.query<{ t: string }>("SELECT current_setting('statement_timeout') AS t")
        const slept = await client.query('SELECT pg_sleep(0.3)').then(
          () => '',
          (error: Error) => ` (pg_sleep(0.3) failed: ${error.message})`,
        )
        await client.query('COMMIT').catch(() => {})
        return `${rows[0]!.t}${slept}`
      } finally {
        await client.end()
      }
    }),
  )
}

describe.each<PoolMode>(['transaction', 'session'])(
  'behind PgBouncer in %s pooling, default settings',
  (poolMode) => {
    let bouncers: PgBouncerFleet | undefined
    let router: Router | undefined

    beforeAll(async () => {
      if (missing) return
      bouncers = await startPgBouncer(cluster, { poolMode })
    })

    afterAll(async () => {
      await router?.end()
      await bouncers?.stop()
    })

    it('every node is up, and reads, writes, transactions and sessions run with 0 errors and 0 stale reads', async (context) => {
      if (missing) return context.skip(missing)
      router = routerThrough(bouncers!)
      await router.ready()
      expect(router.health()).toMatchObject({ ok: true, problems: [] })

      const tally = await mixedLoad(router, 4000)
      expect(tally.errors.slice(0, 5)).toEqual([])
      expect(tally.stale).toBe(0)
      expect(tally.calls).toBeGreaterThan(100)
      // The replicas served reads: their probes worked all along (a replica marked down gets none).
      expect(tally.replicaReads).toBeGreaterThan(0)
      // A probe may time out now and then on a busy machine; every node is up again at the next one.
      await waitFor(() => router!.status().every((row) => row.state === 'up'), 10_000, 'every node up')
    })

    it('a 0.8 s statement succeeds on a replica and on the primary', async (context) => {
      if (missing) return context.skip(missing)
      await expect(router!.query('SELECT pg_sleep(0.8) AS slept')).resolves.toBeDefined()
      await expect(
        router!.query('/* pgroute:primary */ SELECT pg_sleep(0.8) AS slept'),
      ).resolves.toBeDefined()
    })

    it("afterwards no server connection carries a statement_timeout the router set (a plain client's view)", async (context) => {
      if (missing) return context.skip(missing)
      await router!.end()
      for (const node of bouncers!.nodes) {
        const seen = await timeoutsSeenThrough(node.url)
        expect({ node: node.name, timeouts: [...new Set(seen)] }).toEqual({
          node: node.name,
          timeouts: ['0'],
        })
      }
      // And a plain client's long statement is not cut short.
      for (const node of bouncers!.nodes) {
        await expect(node.query('SELECT pg_sleep(0.8) AS slept')).resolves.toBeDefined()
      }
    })
  },
)

describe('behind PgBouncer in front of a TLS cluster', () => {
  it('PgBouncer verifies the servers (verify-full with the cluster CA) and the router routes through it', async (context) => {
    if (missing) return context.skip(missing)
    const noTls = tlsUnavailable()
    if (noTls) return context.skip(noTls)
    requireControl(context, 'starts a TLS cluster of its own')
    const tlsCluster = await startCluster({ replicas: 1, tls: true })
    const bouncers = await startPgBouncer(tlsCluster, { poolMode: 'transaction' })
    const tlsRouter = createRouter({
      primary: bouncers.node('primary').url,
      replicas: [bouncers.node('replica-1').url],
      healthCheck: HEALTH,
    })
    try {
      expect(bouncers.node('primary').url).not.toContain('sslmode')
      await tlsRouter.ready()
      // A first probe may time out while PgBouncer opens its TLS connection on a busy machine: the re-probe follows.
      await waitFor(() => tlsRouter.status().every((row) => row.state === 'up'), 10_000, 'every node up')
      const { rows } = await tlsRouter.query<{ ssl: boolean; port: number }>(
        'SELECT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl, inet_server_port() AS port',
      )
      // PgBouncer's connection to the server is TLS (the server accepts nothing else).
      expect(rows[0]).toEqual({ ssl: true, port: tlsCluster.replicas[0]!.port })
      await tlsRouter.session(async () => {
        await tlsRouter.query('CREATE TABLE IF NOT EXISTS tls_rows (v int)')
        await tlsRouter.query('INSERT INTO tls_rows VALUES (1)')
        expect((await tlsRouter.query('SELECT v FROM tls_rows')).rows).toEqual([{ v: 1 }])
      })
    } finally {
      await tlsRouter.end()
      await bouncers.stop()
      await tlsCluster.stop()
    }
  })
})
