/**
 * Fleet bounding (#23): a router that ran no statement for `healthCheck.idleAfterMs` probes only every
 * `healthCheck.idleIntervalMs`, and its next statement waits for one fresh probe round before it chooses a node,
 * so that lag bounds are judged on data no older than `healthCheck.intervalMs`, as while active; and the router
 * holds one connection of its own per node, shared by its probes and its read-your-writes look-ups.
 */
import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Router } from '../src/index.js'
import { portOf, routerFor, WHO } from './helpers/cluster-helpers.js'

let cluster: Cluster
let router: Router | undefined

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 })
  await cluster.primary.query('CREATE TABLE adaptive_rows (id serial PRIMARY KEY)')
  await cluster.waitForReplication()
})

afterAll(async () => {
  await router?.end()
  if (cluster?.controllable && cluster.replicas[0]?.replayPaused) await cluster.replicas[0].resumeReplay()
  await cluster?.stop()
})

describe("the router's own connections", () => {
  it('are one per node, whatever its sessions look up', async () => {
    const own = routerFor(cluster, { healthCheck: { intervalMs: 200, timeoutMs: 150 } })
    try {
      await own.ready()
      await Promise.all(
        Array.from({ length: 8 }, () =>
          own.session(async () => {
            await own.query('INSERT INTO adaptive_rows DEFAULT VALUES')
            await own.query('SELECT count(*) FROM adaptive_rows')
            await own.token()
          }),
        ),
      )
      for (const node of cluster.nodes) {
        const { rows } = await node.query<{ name: string; count: number }>(
          `SELECT application_name AS name, count(*)::int AS count FROM pg_stat_activity
           WHERE application_name LIKE 'pgroute-%' GROUP BY 1`,
        )
        // Before #23: pgroute-monitor (probes) and pgroute-control (look-ups) on the primary.
        expect(rows, node.name).toEqual([{ name: 'pgroute-monitor', count: 1 }])
      }
    } finally {
      await own.end()
    }
  })
})

describe('an idle router', () => {
  it('judges its next statement on a fresh probe round, not on the probe data it had when it went idle', async (context) => {
    requireControl(context, 'pauses replay on a replica')
    const [replica] = cluster.replicas as [Cluster['primary']]
    router = routerFor(cluster, {
      // Idle after 300 ms; then one round every 60 s: no scheduled round falls within this test once idle.
      healthCheck: { intervalMs: 200, timeoutMs: 150, idleAfterMs: 300, idleIntervalMs: 60_000 },
      lag: { maxBytes: 1024 },
    })
    await router.ready()
    expect(portOf(await router.query(WHO))).toBe(replica.port)
    // Idle: no statement for idleAfterMs, and the data older than intervalMs (status() is not read meanwhile: a
    // look at it starts a round).
    await new Promise((resolve) => setTimeout(resolve, 1500))
    await replica.pauseReplay()
    // Written behind the router's back: the replica falls ~10 kB behind, which only a new probe can show.
    await cluster.primary.query('INSERT INTO adaptive_rows SELECT FROM generate_series(1, 200)')
    const ports = new Set<number>()
    for (let i = 0; i < 10; i++) ports.add(portOf(await router.query(WHO)))
    expect([...ports]).toEqual([cluster.primary.port])
    expect(router.status().find((row) => row.name === replica.name)?.state).toBe('lagging')
    await replica.resumeReplay()
  })
})
