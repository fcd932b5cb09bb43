/**
 * While the primary is down, an asynchronous replica may hold commits that were never acknowledged: WAL the
 * primary sent it while the commits waited for the synchronous standby, which never got that WAL. The standby
 * promoted next does not have them. Until the router knows the new primary (and judges the replica against its
 * timeline's fork point), such a replica serves no reads; the synchronous standby does.
 */
import { requireControl } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { portNames, routerFor, stateOf, waitFor, waitForState } from './helpers/cluster-helpers.js'
import { sleep, TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

/** Probes a loaded 2-core machine does not time out. */
const health = { intervalMs: 500, timeoutMs: 400, maxBackoffMs: 300 }

describe('an asynchronous replica ahead of the synchronous standby while the primary is down', () => {
  it('serves no read showing a commit that was never acknowledged, before and around the promotion', async (context) => {
    requireControl(context, 'stops a WAL sender and kills the primary')
    const cluster = await resources.cluster({
      replicaOptions: [{ synchronous: true }, {}],
      synchronousMethod: 'first',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
    })
    const names = portNames(cluster)
    const router = resources.router(routerFor(cluster, { healthCheck: health }))
    await router.ready()
    await waitFor(
      () => router.status().find((row) => row.name === 'replica-1')?.syncState === 'sync',
      15_000,
      'replica-1 to be the synchronous standby',
    )
    const { rows } = await cluster.primary.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_replication WHERE application_name = 'replica-1'`,
    )
    const sender = rows[0]?.pid
    if (sender === undefined) throw new Error('replica-1 does not stream from the primary')
    // The WAL sender to replica-1 stops: a commit waits for replica-1, which never gets its WAL, while replica-2
    // (asynchronous) replays it.
    process.kill(sender, 'SIGSTOP')
    const unacknowledged = cluster.primary
      .query("INSERT INTO items (note) VALUES ('never acknowledged')")
      .then(
        () => 'acknowledged',
        () => 'failed',
      )
    const replica2 = cluster.node('replica-2')
    await waitFor(
      async () =>
        (await replica2.query("SELECT 1 FROM items WHERE note = 'never acknowledged'")).rows.length === 1,
      10_000,
      'replica-2 to replay the unacknowledged commit',
    )
    await cluster.primary.kill() // SIGKILL ends the stopped sender too
    expect(await unacknowledged).toBe('failed')
    const primaryName = router.status().find((row) => row.role === 'primary')!.name
    await waitForState(router, primaryName, 'down')

    const seen: string[] = []
    const served = new Map<string, number>()
    const readFor = async (ms: number) => {
      const until = Date.now() + ms
      while (Date.now() < until) {
        try {
          const result = await router.query<{ port: number; notes: string[] }>(
            'SELECT inet_server_port() AS port, array(SELECT note FROM items) AS notes',
          )
          const row = result.rows[0]!
          const node = names.get(Number(row.port)) ?? String(row.port)
          served.set(node, (served.get(node) ?? 0) + 1)
          if (row.notes.includes('never acknowledged')) seen.push(node)
        } catch {
          // Waiting or failing per the router's rules is allowed: only what a read returns is judged here.
        }
        await sleep(5)
      }
    }
    // The primary is down, no promotion yet.
    await readFor(1500)
    const heldBack = stateOf(router, 'replica-2')
    // The synchronous standby is promoted; reads go on while the router finds it.
    const promoting = cluster.promote('replica-1', { follow: false })
    await readFor(300)
    await promoting
    await readFor(2 * health.intervalMs + 500)
    await waitFor(
      () => router.status().find((row) => row.name === 'replica-1')?.role === 'primary',
      10_000,
      'the router to follow the promotion',
    )
    await readFor(500)
    expect(seen, `reads showing the unacknowledged commit, by node (served: ${[...served]})`).toEqual([])
    expect(served.get('replica-1') ?? 0).toBeGreaterThan(0)
    expect(heldBack).toBe('lagging')
  })
})
