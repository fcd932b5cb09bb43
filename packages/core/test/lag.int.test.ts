import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeStateEvent, Router } from '../src/index.js'
import {
  createHeartbeat,
  FAST_HEALTH,
  keepWriting,
  portOf,
  routerFor,
  stateOf,
  WHO,
  waitFor,
  waitForState,
} from './helpers/cluster-helpers.js'

// replica-1 replays at once; replica-2 applies WAL 2 s late.
let cluster: Cluster
const routers: Router[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
  await createHeartbeat(cluster)
  await cluster.primary.query('CREATE TABLE bulk (id bigserial PRIMARY KEY, payload text)')
  await cluster.waitForReplication({ replicas: cluster.replicas, timeoutMs: 10_000 })
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await cluster?.stop()
})

function track(router: Router): NodeStateEvent[] {
  routers.push(router)
  const events: NodeStateEvent[] = []
  router.on('node-state', (event) => events.push(event))
  return events
}

async function readPorts(router: Router, count: number): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => router.query(WHO)))
    ports.push(...batch.map(portOf))
  }
  return ports
}

describe('replication lag', () => {
  it('a replica applying WAL 2 s late gets no reads while writes flow (lag.maxSeconds 1), then comes back', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const delayed = cluster.replicas[1]!
    const router = routerFor(cluster, { lag: { maxSeconds: 1 } })
    const events = track(router)
    await router.ready()
    const stopWriting = keepWriting(cluster)
    try {
      await waitForState(router, delayed.name, 'lagging', 10_000)
      const row = router.status().find((r) => r.name === delayed.name)!
      expect(row.lagSeconds).toBeGreaterThan(1)
      expect(row.lagBytes).toBeGreaterThan(0)
      expect(row.healthy).toBe(false)
      const ports = await readPorts(router, 300)
      expect(ports.filter((port) => port === delayed.port)).toHaveLength(0)
      expect(ports.filter((port) => port === cluster.replicas[0]!.port).length).toBeGreaterThan(0)
      expect(stateOf(router, cluster.replicas[0]!.name)).toBe('up')
    } finally {
      await stopWriting()
    }
    // Writes stopped: within the 2 s apply delay (plus probing) it has replayed everything and is back.
    await waitForState(router, delayed.name, 'up', 10_000)
    const lagging = events.find((e) => e.node === delayed.name && e.to === 'lagging')
    expect(lagging?.reason).toMatch(/s behind \(lag\.maxMs 1000\)/)
    const back = events.find((e) => e.node === delayed.name && e.from === 'lagging' && e.to === 'up')
    expect(back?.reason).toBe('caught up')
    const ports = await readPorts(router, 100)
    expect(ports.filter((port) => port === delayed.port).length).toBeGreaterThan(0)
  })

  it('a replica whose replay is paused is excluded once a probe sees it past lag.maxBytes, and back after resume', async (context) => {
    requireControl(context, 'pauses replay')
    const paused = cluster.replicas[0]!
    const router = routerFor(cluster, { lag: { maxBytes: 256 * 1024, maxSeconds: 60 } })
    const events = track(router)
    await router.ready()
    await waitForState(router, paused.name, 'up')
    await paused.pauseReplay()
    try {
      // About 1 MiB of WAL in one commit: beyond lag.maxBytes for a replica that does not replay it.
      await cluster.primary.query(
        `INSERT INTO bulk (payload) SELECT repeat('x', 200) FROM generate_series(1, 4000)`,
      )
      await waitForState(router, paused.name, 'lagging', 10_000)
      const ports = await readPorts(router, 100)
      expect(ports.filter((port) => port === paused.port)).toHaveLength(0)
      const event = events.find((e) => e.node === paused.name && e.to === 'lagging')
      expect(event?.reason).toMatch(/^\d+ bytes behind \(lag\.maxBytes 262144\)$/)
      expect(event?.from).toBe('up')
    } finally {
      await paused.resumeReplay()
    }
    await waitForState(router, paused.name, 'up', 10_000)
    const ports = await readPorts(router, 50)
    expect(ports.filter((port) => port === paused.port).length).toBeGreaterThan(0)
  })

  it('counts lag seconds from the first write the replica has not replayed, not from its last replayed commit', async (context) => {
    requireControl(context, 'pauses replay')
    // After an idle spell, a replica that just fell behind is only as late as the write it misses. Measuring from
    // its last replayed commit would call it seconds late the moment any write arrives.
    const replica = cluster.replicas[0]!
    const maxSeconds = 2
    const idleMs = 4000 // longer than maxSeconds: measured from the last commit, the replica would lag at once
    const router = routerFor(cluster, { lag: { maxSeconds, maxBytes: Number.POSITIVE_INFINITY } })
    const events = track(router)
    await router.ready()
    await cluster.primary.query('INSERT INTO heartbeat (at) VALUES (now())') // the last commit it replays
    await waitForState(router, replica.name, 'up')
    await new Promise((resolve) => setTimeout(resolve, idleMs)) // idle: the last replayed commit ages
    const pausedAt = Date.now()
    await replica.pauseReplay()
    try {
      await cluster.primary.query('INSERT INTO heartbeat (at) VALUES (now())')
      const row = () => router.status().find((r) => r.name === replica.name)!
      await waitFor(() => row().lagBytes > 0, 10_000, 'a probe that sees the replica behind')
      const { lagSeconds } = row()
      const state = stateOf(router, replica.name)
      // Everything it misses was written after the pause: lag seconds never exceed the time since (to within one
      // probe interval, the precision of the measure). Measured from its last replayed commit, they would be at
      // least idleMs more than that, whatever the machine's speed.
      const sincePause = (Date.now() - pausedAt) / 1000
      expect(lagSeconds).toBeLessThanOrEqual(sincePause + FAST_HEALTH.intervalMs / 1000)
      expect(state).toBe(lagSeconds > maxSeconds ? 'lagging' : 'up')
      // It does become lagging once that write is older than the bound.
      await waitForState(router, replica.name, 'lagging', 10_000)
      expect(events.find((e) => e.node === replica.name && e.to === 'lagging')?.reason).toMatch(
        /s behind \(lag\.maxMs 2000\)/,
      )
    } finally {
      await replica.resumeReplay()
    }
    await waitForState(router, replica.name, 'up', 10_000)
  })

  it('status() reports lag figures and no password while a replica lags', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const router = routerFor(cluster, { lag: { maxSeconds: 1 } })
    track(router)
    await router.ready()
    const stopWriting = keepWriting(cluster)
    try {
      await waitForState(router, cluster.replicas[1]!.name, 'lagging', 10_000)
      const status = router.status()
      expect(status.map((row) => row.role)).toEqual(['primary', 'replica', 'replica'])
      expect(status[0]).toMatchObject({ state: 'up', lagBytes: 0, lagSeconds: 0, receiveLsn: null })
      expect(status[2]).toMatchObject({ name: 'replica-2', state: 'lagging', healthy: false })
      expect(status[2]!.receiveLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      expect(status[2]!.lagSeconds).toBeGreaterThan(1)
      const password = new URL(cluster.primary.url).password
      expect(JSON.stringify(status)).not.toContain(password)
    } finally {
      await stopWriting()
    }
  })
})
