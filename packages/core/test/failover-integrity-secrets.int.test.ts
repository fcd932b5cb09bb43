/**
 * Passwords never appear in errors, events or logs (#20): pg-pool attaches the connection (whose parameters hold
 * the password) to the error of an idle connection, `err.client`, and such an error can reach a pgroute error as
 * its `cause`. Every error a caller gets, every event and every log line is serialised here as a test reporter or a
 * logger would (`JSON.stringify`, `util.inspect`), through the whole `cause` chain.
 */
import { inspect } from 'node:util'
import { requireControl, requirePassword } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, isPgRouteError, type Logger } from '../src/index.js'
import { FAST_HEALTH, waitFor } from './helpers/cluster-helpers.js'
import { TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

const EVENTS = [
  'node-state',
  'primary-changed',
  'cluster-replaced',
  'writes-lost',
  'reroute',
  'route',
] as const

/**
 * Whether `value` holds `secret` anywhere a reporter could print it from: every string reachable through own
 * properties, enumerable or not (as test reporters walk errors), down the `cause` chain; plus `util.inspect`.
 */
function holds(value: unknown, secret: string): boolean {
  const seen = new Set<unknown>()
  const visit = (each: unknown, depth: number): boolean => {
    if (typeof each === 'string') return each.includes(secret)
    if (each === null || typeof each !== 'object' || seen.has(each) || depth > 8) return false
    seen.add(each)
    if (each instanceof Error && inspect(each, { depth: 6 }).includes(secret)) return true
    for (const key of Object.getOwnPropertyNames(each)) {
      let property: unknown
      try {
        property = (each as Record<string, unknown>)[key]
      } catch {
        continue
      }
      if (visit(property, depth + 1)) return true
    }
    return false
  }
  return visit(value, 0)
}

describe('no password in errors, events or logs', () => {
  it('idle connections killed, the primary killed under writes: nothing printed holds the password', async (context) => {
    requireControl(context, 'kills the primary')
    const c = await resources.cluster({ replicas: 1 })
    const password = requirePassword(context, c)
    const lines: unknown[] = []
    const log = (fields: unknown, message?: string) => lines.push({ fields, message })
    const logger: Logger = { debug: log, info: log, warn: log, error: log }
    const router = resources.router(
      createRouter({
        primary: c.primary.url,
        replicas: c.replicas.map((replica) => replica.url),
        healthCheck: FAST_HEALTH,
        routeEvents: true,
        logger,
      }),
    )
    const seen: unknown[] = []
    for (const event of EVENTS) router.on(event, (payload: unknown) => seen.push(payload))
    router.pool.on('error', (error) => seen.push(error))
    await router.ready()
    const errors: unknown[] = []
    const call = (work: Promise<unknown>) => work.catch((error: unknown) => errors.push(error))
    for (let i = 0; i < 10; i++) {
      await call(router.query("INSERT INTO items (note) VALUES ('x')"))
      await call(router.query('SELECT count(*) FROM items'))
    }
    // Idle pooled connections of every node are killed: pg-pool emits their errors with `client` attached.
    for (const node of c.nodes)
      await node.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = '' AND pid <> pg_backend_pid()",
      )
    await waitFor(() => seen.some((each) => each instanceof Error), 5000, 'a pool error')
    await c.primary.kill()
    for (let i = 0; i < 10; i++) {
      await call(router.query("INSERT INTO items (note) VALUES ('y')"))
      await call(router.session(() => router.query('SELECT 1')))
      await call(router.session(() => router.token()))
    }
    await call(router.ready())
    expect(errors.length).toBeGreaterThan(0)
    // Every failure the router raised itself is typed (none of these is a statement's own error).
    expect(errors.filter((error) => !isPgRouteError(error))).toEqual([])
    for (const [what, values] of [
      ['errors', errors],
      ['events', seen],
      ['log lines', lines],
      ['status', [router.status(), router.health()]],
    ] as const) {
      expect(holds(values, password), `${what} hold the password`).toBe(false)
    }
    await c.primary.start()
  })
})
