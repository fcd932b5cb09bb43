/**
 * How the router sees a standby fed only from the WAL archive (log shipping: `restore_command`, no
 * `primary_conninfo`). It has no WAL receiver, so `pg_last_wal_receive_lsn()` and `pg_stat_wal_receiver` are empty:
 * its lag can only come from its replay position and replay timestamp, its timeline only from what the server
 * reports during recovery.
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
  stateOf,
  WHO,
  waitFor,
  waitForState,
} from './helpers/cluster-helpers.js'

const local = !clusterEnvConfigured()
/** Probes a heavily loaded 2-core machine does not time out (FAST_HEALTH's 150 ms is too tight there). */
const health = { intervalMs: 500, timeoutMs: 400, maxBackoffMs: 1000 }
const routers: Router[] = []

function keep(router: Router): Router {
  routers.push(router)
  return router
}

async function readPorts(router: Router, count: number): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => router.query(WHO)))
    ports.push(...batch.map(portOf))
  }
  return ports
}

function rowOf(router: Router, name: string) {
  const row = router.status().find((r) => r.name === name)
  if (!row) throw new Error(`no status row for ${name}`)
  return row
}

afterAll(async () => {
  await Promise.all(routers.splice(0).map((router) => router.end()))
})

describe('an archive-fed standby (restore_command only)', () => {
  let cluster: Cluster
  let streaming: ClusterNode
  let shipped: ClusterNode

  beforeAll(async () => {
    if (!local) return
    // archive_timeout 1 s: while WAL is written, a segment is archived (and restored) at least every second.
    cluster = await startCluster({ replicaOptions: [{}, { source: 'archive' }], archive: { timeout: '1s' } })
    ;[streaming, shipped] = cluster.replicas as [ClusterNode, ClusterNode]
    await createHeartbeat(cluster)
    await cluster.waitForReplication({ replicas: cluster.replicas })
  })

  afterAll(async () => {
    await Promise.all(routers.splice(0).map((router) => router.end()))
    await cluster?.stop()
  })

  // On an idle primary the bgwriter still logs a running-xacts record every 15 s. archive_timeout does not close a
  // segment for such "unimportant" WAL, so the standby never gets those few bytes: it has replayed every commit, yet
  // its replay position trails the primary's for as long as the primary stays idle. Before #24 the router called it
  // lagging once lag.maxSeconds had passed (measured: 96 bytes behind); now a standby without a WAL receiver whose
  // snapshot (transactions completed) equals the primary's of the same probe round is not behind in time.
  it('stays up on an idle primary when it has replayed every commit', async (context) => {
    requireControl(context, 'an archive-fed replica')
    const router = keep(routerFor(cluster, { healthCheck: health, lag: { maxSeconds: 2 } }))
    await router.ready()
    await waitForState(router, shipped.name, 'up')
    const states: string[] = []
    // Long enough for the bgwriter's running-xacts record (every 15 s) and lag.maxSeconds after it.
    for (let i = 0; i < 24; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      states.push(rowOf(router, shipped.name).state)
    }
    const last = await cluster.primary.query<{ id: string }>('SELECT max(id)::text AS id FROM heartbeat')
    const replayed = await shipped.query<{ id: string }>('SELECT max(id)::text AS id FROM heartbeat')
    expect(replayed.rows[0]!.id).toBe(last.rows[0]!.id) // every commit is there
    console.log(`archive-fed ${shipped.name} on an idle primary, each second: ${states.join(' ')}`)
    expect(states.every((state) => state === 'up')).toBe(true)
  })

  it('is a replica within its lag bound while WAL flows: up, lag from replay position and time, gets reads', async (context) => {
    requireControl(context, 'an archive-fed replica')
    // A byte bound of four segments: a closed segment not restored yet counts as 16 MiB (see the test below).
    const router = keep(
      routerFor(cluster, { healthCheck: health, lag: { maxSeconds: 5, maxBytes: 64 * 1024 * 1024 } }),
    )
    await router.ready()
    const stopWriting = keepWriting(cluster)
    try {
      await waitForState(router, shipped.name, 'up')
      const seen: Array<{ state: string; lagSeconds: number; lagBytes: number }> = []
      for (let i = 0; i < 15; i++) {
        const row = rowOf(router, shipped.name)
        seen.push({ state: row.state, lagSeconds: row.lagSeconds, lagBytes: row.lagBytes })
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      const row = rowOf(router, shipped.name)
      console.log(
        `archive-fed ${shipped.name} over 3 s: ${seen.map((s) => `${s.state} ${s.lagSeconds.toFixed(1)} s/${s.lagBytes} B`).join(', ')}`,
      )
      expect(row.role).toBe('replica')
      expect(row.receiveLsn).toBeNull() // no WAL receiver
      expect(row.lsn).not.toBeNull() // replay position
      expect(seen.every((s) => s.state === 'up')).toBe(true)
      // The segment in flight is not there yet: it trails the primary by up to archive_timeout and a restore.
      expect(Math.max(...seen.map((s) => s.lagSeconds))).toBeGreaterThan(0)
      const ports = await readPorts(router, 200)
      expect(ports.filter((port) => port === shipped.port).length).toBeGreaterThan(0)
    } finally {
      await stopWriting()
    }
  })

  // Byte lag is primary LSN - replay LSN. Each time archive_timeout closes a segment, the primary's position jumps
  // to the next segment boundary, while the standby stays at the previous one until the segment is archived and
  // restored: it reads as 16 MiB behind (measured: 16777216 and 16777432 bytes) when a few kilobytes of WAL are
  // missing, the rest being padding. Before #24 it flapped to lagging against the default lag.maxBytes (16 MiB);
  // now log shipping's allowance (the segment being written and one on its way) is not counted against the bound.
  it('stays up under steady writes with the default byte bound (segment padding is not lag)', async (context) => {
    requireControl(context, 'an archive-fed replica')
    const router = keep(routerFor(cluster, { healthCheck: health, lag: { maxSeconds: 5 } }))
    const events: NodeStateEvent[] = []
    router.on('node-state', (event) => events.push(event))
    await router.ready()
    const stopWriting = keepWriting(cluster, 5)
    try {
      await waitForState(router, shipped.name, 'up')
      const since = events.length
      await new Promise((resolve) => setTimeout(resolve, 8000))
      const flaps = events.slice(since).filter((e) => e.node === shipped.name && e.to === 'lagging')
      console.log(
        `archive-fed ${shipped.name} under steady writes: ${flaps.map((e) => e.reason).join('; ') || 'never lagging'}`,
      )
      expect(flaps).toEqual([])
    } finally {
      await stopWriting()
    }
  })

  it('is left out beyond its lag bound (replay paused while writes go on) and comes back after', async (context) => {
    requireControl(context, 'an archive-fed replica')
    const router = keep(routerFor(cluster, { healthCheck: health, lag: { maxSeconds: 2 } }))
    const events: NodeStateEvent[] = []
    router.on('node-state', (event) => events.push(event))
    await router.ready()
    const stopWriting = keepWriting(cluster)
    try {
      await waitForState(router, shipped.name, 'up')
      await shipped.pauseReplay()
      await waitForState(router, shipped.name, 'lagging', 15_000)
      const ports = await readPorts(router, 200)
      expect(ports.filter((port) => port === shipped.port)).toHaveLength(0)
      expect(ports.filter((port) => port === streaming.port).length).toBeGreaterThan(0)
      await shipped.resumeReplay()
      await waitForState(router, shipped.name, 'up', 15_000)
    } finally {
      await stopWriting()
      if (shipped.replayPaused) await shipped.resumeReplay()
    }
    // Bytes or seconds, whichever the probe sees first: each closed segment counts as 16 MiB of WAL distance,
    // most of it padding (see the report of #24), so lag.maxBytes (16 MiB) may trip before lag.maxSeconds.
    const lagging = events.find((e) => e.node === shipped.name && e.to === 'lagging')
    expect(lagging?.reason).toMatch(/behind.* \(lag\.max(Ms 2000|Bytes \d+)\)/)
  })

  describe('after a failover (replica-1 promoted, the old primary stopped)', () => {
    let router: Router

    beforeAll(async () => {
      if (!local) return
      router = keep(routerFor(cluster, { healthCheck: health, lag: { maxSeconds: 5 } }))
      await router.ready()
      await cluster.promote(streaming)
      await cluster.primary.query('INSERT INTO heartbeat (at) VALUES (now())')
      // The new primary archives its timeline history and segments; the archive-fed standby follows them.
      await cluster.waitForReplication({ replicas: [shipped], timeoutMs: 30_000 })
      await waitFor(
        () => router.status()[0]?.name === streaming.name,
        10_000,
        'the router to follow the failover',
      )
    })

    it('follows the new timeline through the archive and stays a replica that serves reads', async (context) => {
      requireControl(context, 'promotes a replica')
      const { rows } = await shipped.query<{ in_recovery: boolean }>(
        'SELECT pg_is_in_recovery() AS in_recovery',
      )
      expect(rows[0]!.in_recovery).toBe(true)
      const stopWriting = keepWriting(cluster)
      try {
        await waitForState(router, shipped.name, 'up', 15_000)
        expect(rowOf(router, streaming.name)).toMatchObject({ role: 'primary', timeline: 2 })
        const ports = await readPorts(router, 100)
        expect(ports.filter((port) => port === shipped.port).length).toBeGreaterThan(0)
      } finally {
        await stopWriting()
      }
    })

    // An archive-fed standby never fills pg_stat_wal_receiver: before #24 status() showed `timeline: null` for it.
    // The timeline comes from what the server reports during recovery (the newest history file restored into pg_wal,
    // else its last restartpoint).
    it('names the timeline it replays (2) in status()', async (context) => {
      requireControl(context, 'promotes a replica')
      await waitFor(() => rowOf(router, shipped.name).timeline === 2, 5000, `${shipped.name} on timeline 2`)
    })
  })
})

describe('an archive-fed standby that follows a fenced old primary through the archive', () => {
  let cluster: Cluster
  let candidate: ClusterNode
  let shipped: ClusterNode
  let oldPrimary: ClusterNode
  let router: Router
  const routed: Array<{ node: string; at: number }> = []
  let splitAt = 0

  beforeAll(async () => {
    if (!local) return
    // recovery_target_timeline 'current' (PostgreSQL's default before 12): it stays on timeline 1.
    cluster = await startCluster({
      replicaOptions: [{}, { source: 'archive', recoveryTargetTimeline: 'current' }],
      archive: { timeout: '1s' },
    })
    ;[candidate, shipped] = cluster.replicas as [ClusterNode, ClusterNode]
    oldPrimary = cluster.primary
    await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY, origin text)')
    await cluster.waitForReplication({ replicas: cluster.replicas })
    router = keep(routerFor(cluster, { healthCheck: health, routeEvents: true }))
    router.on('route', (event) => routed.push({ node: event.node, at: Date.now() }))
    await router.ready()
    await waitForState(router, shipped.name, 'up')
    // Split brain: replica-1 promoted (timeline 2), the old primary back read-write on timeline 1, archiving into
    // the same archive, where the archive-fed standby finds and replays its writes.
    await cluster.promote(candidate, { follow: false })
    await oldPrimary.startStandalone()
    splitAt = Date.now()
    await candidate.query(`INSERT INTO items VALUES (2, 'new primary')`)
    // The old primary writes on: two segments, so that the standby's replay position (on timeline 1) passes the new
    // primary's (on timeline 2). Positions of different timelines do not compare, but the router compares them.
    for (const id of [1, 3]) {
      await oldPrimary.query(`INSERT INTO items VALUES ($1, 'old primary after the split')`, [id])
      await oldPrimary.query('SELECT pg_switch_wal()')
    }
    await waitFor(
      async () => (await shipped.query('SELECT 1 FROM items WHERE id = 3')).rowCount === 1,
      20_000,
      `${shipped.name} to replay the old primary's write`,
    )
  })

  afterAll(async () => {
    await router?.end()
    await cluster?.stop()
  })

  it('replays the old primary\u2019s writes, never the new primary\u2019s (the split is real)', async (context) => {
    requireControl(context, 'a split brain')
    expect((await shipped.query('SELECT 1 FROM items WHERE id = 2')).rowCount).toBe(0)
    await waitFor(
      () => router.status()[0]?.name === candidate.name,
      10_000,
      'the router to follow the promotion',
    )
    await waitFor(
      () =>
        router.status().some((row) => row.name.includes(`:${oldPrimary.port}/`) && row.state === 'fenced'),
      10_000,
      'the old primary to be fenced',
    )
  })

  // Before #24 the router had no timeline for an archive-fed standby (no WAL receiver), took it "at its word" and
  // kept it up: it served reads from the fenced old primary's timeline.
  it('fences it: it follows timeline 1, not the cluster\u2019s timeline 2', async (context) => {
    requireControl(context, 'a split brain')
    await waitForState(router, shipped.name, 'fenced', 5000)
  })

  // The same decision seen from the application: before #24 reads after the split still reached it, and a session's
  // read after its own write on the new primary could be answered there, without the write.
  it('sends it no read after the split, and no session read misses its write', async (context) => {
    requireControl(context, 'a split brain')
    await readPorts(router, 200)
    let stale = 0
    for (let i = 0; i < 50; i++) {
      const id = 100 + i
      await router.session(async () => {
        await router.query(`INSERT INTO items VALUES ($1, 'session')`, [id])
        const { rowCount } = await router.query('SELECT 1 FROM items WHERE id = $1', [id])
        if (rowCount !== 1) stale++
      })
    }
    const row = rowOf(router, shipped.name)
    const late = routed.filter((r) => r.node === shipped.name && r.at > splitAt + 2000).length
    console.log(
      `${shipped.name} after the split: state ${row.state} (${row.reason}), lag ${row.lagBytes} B, ` +
        `${late} statements routed there, ${stale} of 50 session reads stale`,
    )
    expect({ late, stale, state: stateOf(router, shipped.name) }).toEqual({
      late: 0,
      stale: 0,
      state: 'fenced',
    })
  })
})
