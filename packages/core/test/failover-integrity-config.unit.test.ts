/**
 * Issue #20, item 5: timer options are bounded to what Node's timers take (2³¹−1 ms): a larger value overflows
 * to 1 ms (every connect times out, probes run back to back, idle connections close at once), so it is refused
 * up front with a `ConfigError` naming the option.
 */
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { createRouter, isConfigError, type RouterOptions } from '../src/index.js'

const MAX_TIMER_MS = 2 ** 31 - 1
const TOO_LONG = 2 ** 31
/** Nothing listens there: a router that wrongly accepts the options never reaches a server. */
const URL = 'postgres://app:secret@127.0.0.1:1/app'
const REPLICA_URL = 'postgres://app:secret@127.0.0.1:2/app'

/** The ConfigError `options` are refused with; fails (and ends the router) when they are accepted. */
async function refused(options: RouterOptions): Promise<unknown> {
  let router: ReturnType<typeof createRouter>
  try {
    router = createRouter(options)
  } catch (error) {
    return error
  }
  await router.end()
  throw new Error('createRouter accepted the options')
}

describe('timer options above 2³¹−1 ms', () => {
  const cases: ReadonlyArray<readonly [option: string, options: RouterOptions]> = [
    ['pool.connectionTimeoutMillis', { primary: URL, pool: { connectionTimeoutMillis: TOO_LONG } }],
    ['pool.idleTimeoutMillis', { primary: URL, pool: { idleTimeoutMillis: TOO_LONG } }],
    ['timeouts.readMs', { primary: URL, timeouts: { readMs: TOO_LONG } }],
    ['timeouts.writeMs', { primary: URL, timeouts: { writeMs: TOO_LONG } }],
    ['healthCheck.intervalMs', { primary: URL, healthCheck: { intervalMs: TOO_LONG } }],
    ['healthCheck.maxBackoffMs', { primary: URL, healthCheck: { maxBackoffMs: TOO_LONG } }],
    [
      'replicas[0].connectionTimeoutMillis',
      { primary: URL, replicas: [{ connectionString: REPLICA_URL, connectionTimeoutMillis: TOO_LONG }] },
    ],
    [
      'replicas[0].idleTimeoutMillis',
      { primary: URL, replicas: [{ connectionString: REPLICA_URL, idleTimeoutMillis: TOO_LONG }] },
    ],
    [
      'primary.connectionTimeoutMillis',
      { primary: { connectionString: URL, connectionTimeoutMillis: TOO_LONG } },
    ],
  ]
  for (const [option, options] of cases) {
    it(`${option}: ConfigError naming it`, async () => {
      const error = await refused(options)
      expect(isConfigError(error), String(error)).toBe(true)
      expect(error).toMatchObject({ option })
      expect((error as Error).message).toContain(String(MAX_TIMER_MS))
      expect((error as Error).message).not.toContain('secret')
    })
  }

  it('a passed-in pg.Pool whose connectionTimeoutMillis overflows: ConfigError naming it', async () => {
    const pool = new pg.Pool({ connectionString: URL, connectionTimeoutMillis: TOO_LONG })
    try {
      const error = await refused({ primary: pool })
      expect(isConfigError(error), String(error)).toBe(true)
      expect((error as { option: string }).option).toMatch(/^primary/)
    } finally {
      await pool.end()
    }
  })

  it('2³¹−1 itself is accepted', async () => {
    const router = createRouter({
      primary: URL,
      timeouts: { readMs: MAX_TIMER_MS },
      pool: { idleTimeoutMillis: MAX_TIMER_MS, connectionTimeoutMillis: MAX_TIMER_MS },
    })
    await router.end()
  })
})
