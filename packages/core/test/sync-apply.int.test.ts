/**
 * The synchronous-standby rule of read-your-writes (#24): a session's read after its write may go to a standby
 * PostgreSQL guarantees applied the write before acknowledging it (`synchronous_commit = remote_apply`, the standby
 * among the first `n` of `FIRST n`), without waiting for its replay position. Everything else keeps the LSN rule.
 *
 * The probes run once a minute here, so the probe data never shows the standby at a session's write position: a
 * read that goes to a replica without the rule's guarantee would need a direct check (off) or a wait (0 ms), and
 * falls back to the primary instead.
 */
import { type Cluster, type ClusterNode, startCluster } from '@pgroute/cluster'
import { clusterEnvConfigured, requireControl } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RouteEvent, Router, RouterOptions } from '../src/index.js'
import { portOf, routerFor, waitFor } from './helpers/cluster-helpers.js'

const local = !clusterEnvConfigured()
const slowProbes = { intervalMs: 60_000, idleIntervalMs: 60_000, timeoutMs: 2000, maxBackoffMs: 1000 }

let cluster: Cluster
let sync: ClusterNode
let other: ClusterNode
const routers: Router[] = []

function start(options: Partial<RouterOptions> = {}): Router {
  const router = routerFor(cluster, {
    healthCheck: slowProbes,
    readYourWrites: { directCheck: false, maxWaitMs: 0 },
    routeEvents: true,
    ...options,
  })
  routers.push(router)
  return router
}

/** Runs `count` sessions that write a row and read it back; what each read saw and where it went. */
async function sessions(router: Router, count: number, tag: string) {
  const reasons: string[] = []
  let reading = false
  // Sessions run one after the other: the route events while a read runs are that read's.
  const onRoute = (event: RouteEvent) => {
    if (reading) reasons.push(event.reason)
  }
  router.on('route', onRoute)
  let stale = 0
  const ports: number[] = []
  try {
    for (let i = 0; i < count; i++) {
      const key = `${tag}-${i}`
      await router.session(async () => {
        await router.query('INSERT INTO apply_rows (key) VALUES ($1)', [key])
        reading = true
        const { rows } = await router.query(
          'SELECT key, inet_server_port() AS port FROM apply_rows WHERE key = $1',
          [key],
        )
        reading = false
        if (rows.length === 0) stale++
        else ports.push(portOf({ rows }))
      })
    }
  } finally {
    router.off('route', onRoute)
  }
  return { stale, ports, reasons }
}

beforeAll(async () => {
  if (!local) return
  cluster = await startCluster({
    replicaOptions: [{ synchronous: true }, {}],
    synchronousMethod: 'first',
    synchronousCount: 1,
    synchronousCommit: 'remote_apply',
  })
  ;[sync, other] = cluster.replicas as [ClusterNode, ClusterNode]
  await cluster.primary.query('CREATE TABLE apply_rows (key text PRIMARY KEY)')
  await cluster.waitForReplication()
  // The rule counts a configuration only once every process of the server has taken it (CONFIG_SETTLE_MS).
  await new Promise((resolve) => setTimeout(resolve, 1200))
})

afterAll(async () => {
  await Promise.all(routers.splice(0).map((router) => router.end()))
  await cluster?.stop()
})

describe('FIRST 1 (replica-1), synchronous_commit = remote_apply in the configuration', () => {
  it('reads a session\u2019s writes on the synchronous standby without waiting, never stale', async (context) => {
    requireControl(context, 'synchronous standbys')
    const router = start()
    await router.ready()
    expect(router.status().find((row) => row.name === sync.name)?.syncState).toBe('sync')
    const { stale, ports, reasons } = await sessions(router, 30, 'first')
    expect(stale).toBe(0)
    expect(new Set(reasons)).toEqual(new Set(['read-your-writes-sync']))
    expect(new Set(ports)).toEqual(new Set([sync.port]))
  })

  it('keeps the LSN rule with readYourWrites.synchronousApply: false (reads fall back to the primary)', async (context) => {
    requireControl(context, 'synchronous standbys')
    const router = start({ readYourWrites: { directCheck: false, maxWaitMs: 0, synchronousApply: false } })
    await router.ready()
    const { stale, ports, reasons } = await sessions(router, 10, 'off')
    expect(stale).toBe(0)
    expect(reasons).not.toContain('read-your-writes-sync')
    expect(ports).not.toContain(sync.port)
    expect(ports).not.toContain(other.port)
  })
})

describe('the configuration changes under the router', () => {
  it('ANY 1 of two standbys guarantees none: no read skips the wait, before or after the reload', async (context) => {
    requireControl(context, 'synchronous standbys')
    const before = start()
    await before.ready()
    await cluster.primary.query(
      `ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 ("${sync.name}", "${other.name}")'`,
    )
    await cluster.primary.query('SELECT pg_reload_conf()')
    await waitFor(
      async () =>
        (
          await cluster.primary.query<{ s: string }>('SELECT sync_state AS s FROM pg_stat_replication')
        ).rows.every((row) => row.s === 'quorum'),
      10_000,
      'both standbys to be quorum standbys',
    )
    try {
      // Snapshots from before the reload and after it: the configuration changed, nothing is guaranteed.
      const changed = await sessions(before, 10, 'changed')
      expect(changed.stale).toBe(0)
      expect(changed.reasons).not.toContain('read-your-writes-sync')
      await new Promise((resolve) => setTimeout(resolve, 1200))
      // Both snapshots of ANY 1: a commit waits for one of the two, which one is not known.
      const after = start()
      await after.ready()
      const quorum = await sessions(after, 10, 'quorum')
      expect(quorum.stale).toBe(0)
      expect(quorum.reasons).not.toContain('read-your-writes-sync')
    } finally {
      await cluster.primary.query('ALTER SYSTEM RESET synchronous_standby_names')
      await cluster.primary.query('SELECT pg_reload_conf()')
    }
  })
})
