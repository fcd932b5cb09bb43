/**
 * One "replica" URL that is several servers: HAProxy (the system's `haproxy`, e.g. Debian's package) round-robin
 * in front of two replicas, one of which has stopped replaying, as a cloud reader endpoint or a Kubernetes `-ro`
 * service in front of replicas with different lag. The router records the server behind each of its own and its
 * pools' connections; a case still marked `fails` shows what is not handled yet. Skipped, with the reason, where
 * haproxy is not installed.
 */
import { type Cluster, type HaproxyListener, haproxyUnavailable, startHaproxy } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  SERVER_IDENTITY_SQL,
  type ServerIdentityRow,
  ServerSightings,
  toServerIdentity,
} from '../src/health/server-identity.js'
import { createRouter, type Router } from '../src/index.js'
import { WHO } from './helpers/cluster-helpers.js'

/** Probes with room for a TLS or PgBouncer login on a busy machine (FAST_HEALTH gives a probe 150 ms, login included). */
const HEALTH = { intervalMs: 500, timeoutMs: 400, maxBackoffMs: 1000 } as const

const missing = haproxyUnavailable()
let cluster: Cluster
let readers: HaproxyListener | undefined
let readersUrl: string
let router: Router | undefined

beforeAll(async () => {
  if (missing) return
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query('CREATE TABLE several_rows (key text PRIMARY KEY)')
  await cluster.waitForReplication()
  readers = await startHaproxy(cluster.replicas, { balance: 'roundrobin' })
  readersUrl = readers.urlFor(cluster.replicas[0]!.url)
})

afterAll(async () => {
  await router?.end()
  await readers?.stop()
  if (cluster?.controllable && cluster.replicas[1]?.replayPaused) await cluster.replicas[1].resumeReplay()
  await cluster?.stop()
})

/** The server ports answering on `count` fresh connections of `url`, and the sightings they make. */
async function sample(url: string, count: number): Promise<{ ports: number[]; sightings: ServerSightings }> {
  const sightings = new ServerSightings()
  const ports: number[] = []
  for (let i = 0; i < count; i++) {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query<ServerIdentityRow>(SERVER_IDENTITY_SQL)
      const identity = toServerIdentity(rows[0]!)
      ports.push(identity.port!)
      sightings.record(identity)
    } finally {
      await client.end()
    }
  }
  return { ports, sightings }
}

describe('one replica URL in front of two replicas (HAProxy, round-robin)', () => {
  it("its connections answer from both replicas; the sightings of a node's connections say so", async (context) => {
    if (missing) return context.skip(missing)
    const { ports, sightings } = await sample(readersUrl, 4)
    expect(new Set(ports)).toEqual(new Set(cluster.replicas.map((replica) => replica.port)))
    expect(sightings.problem()).toMatch(/^answers from 2 servers \(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\)/)
    // A node that is one server: one sighting however many connections.
    const direct = await sample(cluster.replicas[0]!.url, 4)
    expect(new Set(direct.ports).size).toBe(1)
    expect(direct.sightings.problem()).toBeUndefined()
  })

  it('health() names the node that answers from several servers', async (context) => {
    if (missing) return context.skip(missing)
    router ??= createRouter({
      primary: cluster.primary.url,
      replicas: [{ name: 'readers', connectionString: readersUrl }],
      healthCheck: HEALTH,
    })
    await router.ready()
    // Enough reads that the node's pool opens connections on both servers.
    await Promise.all(Array.from({ length: 16 }, () => router!.query(WHO)))
    await new Promise((resolve) => setTimeout(resolve, 3 * HEALTH.intervalMs))
    expect(router.health().problems.join('\n')).toMatch(/readers .*answers from 2 servers/)
  })

  it('sessions read their own writes through it while one replica behind it is stuck', async (context) => {
    if (missing) return context.skip(missing)
    requireControl(context, 'pauses replay on a replica')
    await cluster.replicas[1]!.pauseReplay()
    // The first two connections (the router's own and the pool's first) land on replica-1, which is caught up; the
    // pool's later connections land on replica-2, which is not. The router only ever sees replica-1's positions: a
    // session's read that gets a connection to another server than the one probed goes to the primary.
    const [caughtUp, stuck] = cluster.replicas as [Cluster['primary'], Cluster['primary']]
    const firstTwo = await startHaproxy(
      [
        { name: caughtUp.name, host: caughtUp.host, port: caughtUp.port, maxconn: 2 },
        { name: stuck.name, host: stuck.host, port: stuck.port },
      ],
      { balance: 'first' },
    )
    const local = createRouter({
      primary: cluster.primary.url,
      replicas: [{ name: 'readers', connectionString: firstTwo.urlFor(caughtUp.url) }],
      healthCheck: HEALTH,
    })
    try {
      await local.ready()
      let stale = 0
      await Promise.all(
        Array.from({ length: 8 }, async (_, worker) => {
          for (let round = 0; round < 10; round++) {
            const key = `s${worker}-${round}`
            await local.session(async () => {
              await local.query('INSERT INTO several_rows (key) VALUES ($1)', [key])
              const { rows } = await local.query('SELECT 1 FROM several_rows WHERE key = $1', [key])
              if (rows.length === 0) stale++
            })
          }
        }),
      )
      expect(stale).toBe(0)
    } finally {
      await local.end()
      await firstTwo.stop()
      await cluster.replicas[1]!.resumeReplay()
    }
  })
})
