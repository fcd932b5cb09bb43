import { inspect } from 'node:util'
import type { Cluster } from '@pgroute/cluster'
import { requireControl, requirePassword, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, isPgRouteError, type Router } from '../src/index.js'
import { FAST_HEALTH, routerFor, waitFor, waitForState } from './helpers/cluster-helpers.js'

let cluster: Cluster
const routers: Router[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 })
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await cluster?.stop()
})

function track(router: Router): Router {
  routers.push(router)
  return router
}

/** The URL of `url` with another password. */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url)
  parsed.password = password
  return parsed.toString()
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )
}

describe('router.ready()', () => {
  it('resolves when the primary takes writes; health() is ok with no problems', async () => {
    const router = track(routerFor(cluster))
    await router.ready()
    const health = router.health()
    expect(health).toMatchObject({ ok: true, problems: [] })
    expect(health.primary).toMatchObject({ role: 'primary', state: 'up' })
    expect(health.replicas.map((row) => row.state)).toEqual(['up'])
  })

  it('rejects with PGROUTE_PRIMARY_UNAVAILABLE on a wrong password, the driver error as cause, no password', async (context) => {
    requirePassword(context, cluster) // A cluster that trusts its clients accepts any password.
    const secret = 'not-the-password-4711'
    const router = track(
      createRouter({
        primary: withPassword(cluster.primary.url, secret),
        replicas: [cluster.replicas[0]!.url],
        healthCheck: FAST_HEALTH,
      }),
    )
    const error = await rejection(router.ready())
    expect(isPgRouteError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
    // SQLSTATE 28P01: invalid_password, as the server said it.
    expect((error as Error).cause).toMatchObject({ code: '28P01' })
    expect((error as Error).message).toMatch(/password authentication failed/)
    expect(inspect(error, { depth: 5 })).not.toContain(secret)
    expect(JSON.stringify(router.health())).not.toContain(secret)

    const health = router.health()
    expect(health.ok).toBe(false)
    expect(health.primary.state).toBe('down')
    expect(health.problems[0]).toMatch(/^primary .* is down: password authentication failed/)
  })

  it('rejects when the "primary" is a standby (in recovery) and no node takes writes', async () => {
    // Roles are observed: a standby configured as the primary is only a first guess. With no node out of
    // recovery, nothing can take writes.
    const router = track(createRouter({ primary: cluster.replicas[0]!.url, healthCheck: FAST_HEALTH }))
    const error = await rejection(router.ready())
    expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
    expect((error as Error).message).toMatch(/in recovery/)
    expect(router.health()).toMatchObject({ ok: false })
    expect(router.health().problems.join('\n')).toMatch(/primary .* is in recovery: no node takes writes/)
  })

  it('waits for the re-probe after a probe that timed out: a primary stalled for a moment is ready', async (context) => {
    requireControl(context, 'hangs the primary')
    await cluster.primary.hang()
    const router = track(
      createRouter({
        primary: cluster.primary.url,
        // The re-probe starts 100 ms after the failure and may take timeoutMs: room to resume the server.
        healthCheck: { intervalMs: 5000, timeoutMs: 2000, maxBackoffMs: 1000 },
      }),
    )
    let settled = false
    const ready = router.ready().finally(() => {
      settled = true
    })
    try {
      // The first probe times out: only then is the server continued, before the re-probe can fail.
      await waitFor(() => router.status()[0]!.errors >= 1, 10_000, 'the first probe to fail')
      expect(settled).toBe(false)
    } finally {
      await cluster.primary.resume()
    }
    await ready
    expect(router.health().ok).toBe(true)
    expect(router.status()[0]!.errors).toBe(1)
  })

  it('health() names a replica that is down, and stays ok while reads fall back to the primary', async (context) => {
    requireControl(context, 'stops a replica')
    const lenient = track(routerFor(cluster, { fallback: 'primary' }))
    const strict = track(routerFor(cluster, { fallback: 'error' }))
    await Promise.all([lenient.ready(), strict.ready()])
    const replica = cluster.replicas[0]!
    await replica.stop({ mode: 'fast' })
    try {
      await waitForState(lenient, replica.name, 'down', 10_000)
      await waitForState(strict, replica.name, 'down', 10_000)
      const health = lenient.health()
      expect(health.ok).toBe(true)
      expect(health.problems).toHaveLength(1)
      expect(health.problems[0]).toMatch(new RegExp(`^replica ${replica.name} is down: `))
      // No replica to read from and no fallback: not ok.
      expect(strict.health().ok).toBe(false)
      // The primary is fine: ready() still resolves.
      await lenient.ready()
    } finally {
      await replica.start()
    }
  })
})
