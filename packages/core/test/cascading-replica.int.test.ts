/**
 * How the router sees cascading replicas (a replica streaming from another replica). The rule that fences "a
 * replica following a fenced node" (it streams an older timeline) must fence a cascade below a fenced node, and
 * never a healthy cascade.
 */
import { type Cluster, type ClusterNode, startCluster } from '@pgroute/cluster'
import { clusterEnvConfigured, requireControl } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeStateEvent, Router } from '../src/index.js'
import {
  createHeartbeat,
  keepWriting,
  portOf,
  routerFor,
  WHO,
  waitFor,
  waitForState,
} from './helpers/cluster-helpers.js'

const local = !clusterEnvConfigured()
/** Probes a heavily loaded 2-core machine does not time out (FAST_HEALTH's 150 ms is too tight there). */
const health = { intervalMs: 500, timeoutMs: 400, maxBackoffMs: 1000 }

async function readPorts(router: Router, count: number): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => router.query(WHO)))
    ports.push(...batch.map(portOf))
  }
  return ports
}

function rowOf(router: Router, node: ClusterNode) {
  const row = router.status().find((r) => r.name === node.name || r.name.includes(`:${node.port}/`))
  if (!row) throw new Error(`no status row for ${node.name}`)
  return row
}

describe('cascading replicas in a split brain', () => {
  // replica-3 streams from replica-1, replica-4 from replica-2.
  let cluster: Cluster
  let oldPrimary: ClusterNode
  let r1: ClusterNode
  let r2: ClusterNode
  let r3: ClusterNode
  let r4: ClusterNode
  let router: Router
  const events: NodeStateEvent[] = []

  beforeAll(async () => {
    if (!local) return
    cluster = await startCluster({
      replicaOptions: [{}, {}, { upstream: 'replica-1' }, { upstream: 'replica-2' }],
    })
    oldPrimary = cluster.primary
    ;[r1, r2, r3, r4] = cluster.replicas as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
    await createHeartbeat(cluster)
    await cluster.waitForReplication()
    router = routerFor(cluster, { healthCheck: health, lag: { maxSeconds: 5 } })
    router.on('node-state', (event) => events.push(event))
    await router.ready()
  })

  afterAll(async () => {
    await router?.end()
    await cluster?.stop()
  })

  it('are replicas on the cluster timeline, within bounds, and serve reads', async (context) => {
    requireControl(context, 'cascading replicas')
    for (const node of [r1, r2, r3, r4]) await waitForState(router, node.name, 'up')
    for (const node of [r3, r4]) expect(rowOf(router, node)).toMatchObject({ role: 'replica', timeline: 1 })
    const ports = await readPorts(router, 200)
    for (const node of [r3, r4]) expect(ports.filter((port) => port === node.port).length).toBeGreaterThan(0)
  })

  it('a cascade whose upstream died goes lagging while writes go on, and comes back with it', async (context) => {
    requireControl(context, 'stops a replica')
    const stopWriting = keepWriting(cluster)
    try {
      await r2.stop()
      await waitForState(router, r4.name, 'lagging', 20_000)
      expect(rowOf(router, r4).reason).toMatch(/behind/)
      await r2.start()
      await waitForState(router, r4.name, 'up', 20_000)
    } finally {
      await stopWriting()
    }
  })

  it('after a split brain: fences the cascade below the fenced side, keeps the cascade below the new primary', async (context) => {
    requireControl(context, 'a split brain')
    await cluster.waitForReplication()
    // replica-1 promoted without re-pointing anyone: replica-3 keeps streaming from it (now the primary);
    // replica-2 keeps the old primary as upstream, which comes back read-write on timeline 1; replica-4 follows
    // replica-2.
    await cluster.promote(r1, { follow: false })
    await oldPrimary.startStandalone()
    await oldPrimary.query('INSERT INTO heartbeat (at) VALUES (now())')
    await waitFor(() => router.status()[0]?.name === r1.name, 10_000, 'the router to follow the promotion')
    for (const node of [oldPrimary, r2, r4]) {
      await waitFor(() => rowOf(router, node).state === 'fenced', 15_000, `${node.name} fenced`)
    }
    expect(rowOf(router, r4).reason).toMatch(/follows timeline 1/)
    const stopWriting = keepWriting(cluster)
    try {
      await waitForState(router, r3.name, 'up', 15_000)
      expect(rowOf(router, r3)).toMatchObject({ role: 'replica', timeline: 2 })
      const ports = await readPorts(router, 200)
      expect(ports.filter((port) => [oldPrimary.port, r2.port, r4.port].includes(port))).toEqual([])
      expect(ports.filter((port) => port === r3.port).length).toBeGreaterThan(0)
    } finally {
      await stopWriting()
    }
    const r3Fenced = events.filter((e) => e.node === r3.name && e.to === 'fenced')
    expect(r3Fenced).toEqual([])
  })
})

describe('a cascade through a failover, before and after its upstream follows the new primary', () => {
  // replica-3 streams from replica-1; replica-2 is promoted; replica-1 is re-pointed to it only later.
  let cluster: Cluster
  let router: Router
  let r1: ClusterNode
  let r2: ClusterNode
  let r3: ClusterNode
  const events: Array<NodeStateEvent & { at: number }> = []
  let promotedAt = 0

  beforeAll(async () => {
    if (!local) return
    cluster = await startCluster({ replicaOptions: [{}, {}, { upstream: 'replica-1' }] })
    ;[r1, r2, r3] = cluster.replicas as [ClusterNode, ClusterNode, ClusterNode]
    await createHeartbeat(cluster)
    await cluster.waitForReplication()
    router = routerFor(cluster, { healthCheck: health, lag: { maxSeconds: 5 } })
    router.on('node-state', (event) => events.push({ ...event, at: Date.now() }))
    await router.ready()
    await waitForState(router, r3.name, 'up')
    // The old primary is stopped cleanly first: replica-1 and replica-3 hold every byte of timeline 1 up to the
    // fork, a prefix of timeline 2. Nothing streams to them until replica-1 is re-pointed.
    await cluster.promote(r2, { follow: false })
    promotedAt = Date.now()
    await waitFor(() => router.status()[0]?.name === r2.name, 10_000, 'the router to follow the failover')
    await new Promise((resolve) => setTimeout(resolve, 3000))
  })

  afterAll(async () => {
    await router?.end()
    await cluster?.stop()
  })

  // A replica (and the cascade below it) stopped at the fork point of a clean failover follows no fenced node: what
  // it holds is a prefix of timeline 2 (the history file's switch point), it is only behind. Red before #24 (both
  // were fenced until the upstream streamed timeline 2, as every node on an older timeline was).
  it('keeps the cascade (and its upstream) out of "fenced" while they wait at the fork point', async (context) => {
    requireControl(context, 'promotes a replica')
    const fenced = events.filter((e) => [r1.name, r3.name].includes(e.node) && e.to === 'fenced')
    console.log(
      `after the promotion: ${fenced.map((e) => `${e.node} fenced at +${e.at - promotedAt} ms (${e.reason})`).join('; ') || 'nothing fenced'}`,
    )
    expect(fenced).toEqual([])
  })

  it('once its upstream follows the new primary, the cascade is up on timeline 2 and has its writes', async (context) => {
    requireControl(context, 'promotes a replica')
    await cluster.followPrimary(r1)
    expect(r3.upstream).toBe(r1)
    const stopWriting = keepWriting(cluster)
    try {
      await waitFor(
        () => rowOf(router, r3).state === 'up' && rowOf(router, r3).timeline === 2,
        20_000,
        `${r3.name} up on timeline 2`,
      )
    } finally {
      await stopWriting()
    }
    const id = await router.session(async () => {
      const { rows } = await router.query<{ id: string }>(
        'INSERT INTO heartbeat (at) VALUES (now()) RETURNING id::text AS id',
      )
      return rows[0]!.id
    })
    await cluster.waitForReplication({ replicas: [r3] })
    expect((await r3.query('SELECT 1 FROM heartbeat WHERE id = $1', [id])).rowCount).toBe(1)
    const seen = events.filter((e) => e.node === r3.name).map((e) => `${e.from}→${e.to} (${e.reason})`)
    console.log(`${r3.name} through the failover: ${seen.join(', ')}`)
  })
})
