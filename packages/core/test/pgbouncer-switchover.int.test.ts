/**
 * Writes across a planned switchover with `failover.waitMs`, the router reaching every node through its PgBouncer
 * (the system's `pgbouncer`, 1.18 on Debian, default settings): they wait for the new primary, as they do without
 * PgBouncer. PgBouncer keeps accepting client connections after its server went away, then refuses statements with
 * its own 08P01 FATAL (`server login has been failing, try again later (server_login_retry)`) or closes a client
 * connection before the statement was written: neither reached a server, so neither may fail a waiting write.
 * Skipped, with the reason, where pgbouncer is not installed.
 */
import { type Cluster, type PoolMode, pgbouncerUnavailable, startPgBouncer } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { isRefusedByPooler } from '../src/pg-errors.js'

const missing = pgbouncerUnavailable()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

/** 8 writers, one INSERT each every 20 ms until `stop()`: the keys acknowledged and the errors callers got. */
function writeLoad(router: Router) {
  const acknowledged: string[] = []
  const errors: unknown[] = []
  let running = true
  const writer = async (id: number) => {
    for (let n = 0; running; n++) {
      const key = `w${id}-${n}`
      try {
        await router.query('INSERT INTO switch_rows (key) VALUES ($1)', [key])
        acknowledged.push(key)
      } catch (error) {
        errors.push(error)
      }
      await sleep(20)
    }
  }
  const writers = Array.from({ length: 8 }, (_, id) => writer(id))
  return {
    acknowledged,
    errors,
    stop: async () => {
      running = false
      await Promise.all(writers)
    },
  }
}

describe.each<PoolMode>(['transaction', 'session'])('behind PgBouncer in %s pooling', (poolMode) => {
  it('with failover.waitMs, writes wait for the new primary across a switchover (none fails for a statement no server got), none lost', async (context) => {
    if (missing) return context.skip(missing)
    requireControl(context, 'promotes a replica')
    const cluster: Cluster = await startTestCluster({ replicas: 2 })
    cleanups.push(() => cluster.stop())
    await cluster.primary.query('CREATE TABLE switch_rows (key text PRIMARY KEY)')
    await cluster.waitForReplication({ timeoutMs: 10_000 })
    const bouncers = await startPgBouncer(cluster, { poolMode })
    cleanups.push(() => bouncers.stop())
    const router = createRouter({
      primary: bouncers.node('primary').url,
      replicas: cluster.replicas.map((replica) => bouncers.node(replica.name).url),
      failover: { waitMs: 15_000 },
    })
    cleanups.push(() => router.end())
    await router.ready()

    const load = writeLoad(router)
    await sleep(1000)
    // The primary stops cleanly, replica-1 is promoted, replica-2 follows it (as `pnpm chaos` switchover-waiting).
    await cluster.promote('replica-1')
    await sleep(3000)
    await load.stop()

    // No write fails for a statement no server got: refused by PgBouncer (its own 08P01 FATAL), or its connection
    // closed before a byte of it was written ("the statement did not run"). Left (see docs/production.md): a write
    // sent in the instant the server went away waits in PgBouncer's queue for a server connection that never
    // comes, nothing on the wire tells the router it did not run, and it is cancelled once the primary is marked
    // down (outcome unknown). At most one per writer: the next waits for the new primary.
    const described = load.errors.map((error) => {
      const { code, message, cause } = error as { code?: string; message?: string; cause?: unknown }
      return { code, message, refused: isRefusedByPooler(cause) }
    })
    expect(
      described.filter(
        ({ code, message, refused }) =>
          refused ||
          message?.includes('did not run') ||
          !(code === 'PGROUTE_NODE_DOWN' || message?.includes('may or may not have run')),
      ),
    ).toEqual([])
    expect(described.length).toBeLessThanOrEqual(8)
    expect(load.acknowledged.length).toBeGreaterThan(100)
    const { rows } = await cluster.primary.query<{ key: string }>(
      'SELECT key FROM switch_rows WHERE key = ANY($1)',
      [load.acknowledged],
    )
    expect(rows.length).toBe(load.acknowledged.length)
  }, 90_000)
})
