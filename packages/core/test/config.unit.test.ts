import { inspect } from 'node:util'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/config/resolve-options.js'
import {
  ConfigError,
  createRouter,
  isConfigError,
  isPgRouteError,
  type NodeStateEvent,
  type RouterOptions,
} from '../src/index.js'

const SECRET = 'Sup3r-S3cret-pw'
const URL_A = `postgres://app:${SECRET}@db-a.internal:5433/shop`
const URL_B = `postgres://app:${SECRET}@db-b.internal/shop`

/** Pools created by resolveOptions connect lazily; none of them ever connects here. */
function resolve(options: unknown) {
  return resolveOptions(options as RouterOptions)
}

function configError(options: unknown): ConfigError {
  try {
    resolve(options)
  } catch (error) {
    if (isConfigError(error)) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('defaults', () => {
  it('fills in every option', () => {
    const resolved = resolve({ primary: URL_A })
    expect(resolved).toMatchObject({
      lag: { maxBytes: 16 * 1024 * 1024, maxMs: 10_000 },
      healthCheck: { intervalMs: 1000, timeoutMs: 500, maxBackoffMs: 5000 },
      balance: 'round-robin',
      fallback: 'primary',
      retry: { retries: 2, minTimeoutMs: 0, maxTimeoutMs: 1000 },
      readYourWrites: { maxWaitMs: 0, directCheck: true },
      writeFunctions: [],
      classifierCacheSize: 1000,
      routeEvents: false,
      failover: { waitMs: 0 },
      learnRouting: true,
    })
    expect(resolved.nodes[0]!).toMatchObject({
      name: 'db-a.internal:5433/shop',
      role: 'primary',
      ownsPool: true,
    })
    expect(resolved.nodes[0]!.pool.options).toMatchObject({
      max: 10,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 5000,
    })
  })

  it('derives dependent defaults from the options given', () => {
    const resolved = resolve({
      primary: URL_A,
      healthCheck: { intervalMs: 200 },
      retry: { minTimeoutMs: 3000 },
      pool: { max: 3 },
    })
    expect(resolved.healthCheck.timeoutMs).toBe(199) // below the interval by default
    expect(resolved.retry.maxTimeoutMs).toBe(3000) // never below minTimeoutMs
    expect(resolved.nodes[0]!.pool.options.max).toBe(3)
  })

  it('limits reads to 30 s and leaves writes unlimited; connectionTimeoutMillis 0 only without limits', () => {
    expect(resolve({ primary: URL_A }).timeouts).toEqual({ readMs: 30_000, writeMs: 0 })
    const unlimited = resolve({
      primary: URL_A,
      timeouts: { readMs: 0, writeMs: 0 },
      pool: { connectionTimeoutMillis: 0 },
    })
    expect(unlimited.timeouts).toEqual({ readMs: 0, writeMs: 0 })
    expect(resolve({ primary: URL_A, retry: { retries: 10 } }).retry.retries).toBe(10)
  })

  it('lets a node config override the pool defaults', () => {
    const resolved = resolve({ primary: { connectionString: URL_A, max: 4 }, pool: { max: 3 } })
    expect(resolved.nodes[0]!.pool.options.max).toBe(4)
  })

  it('accepts Infinity for the lag bounds, and a balance function', () => {
    const pick = () => undefined
    const resolved = resolve({
      primary: URL_A,
      lag: { maxBytes: Number.POSITIVE_INFINITY, maxSeconds: Number.POSITIVE_INFINITY },
      balance: pick,
    })
    expect(resolved.lag).toEqual({ maxBytes: Number.POSITIVE_INFINITY, maxMs: Number.POSITIVE_INFINITY })
    expect(resolved.balance).toBe(pick)
  })

  it('normalises writeFunctions', () => {
    expect(resolve({ primary: URL_A, writeFunctions: [' Audit.Log ', 'bump'] }).writeFunctions).toEqual([
      'audit.log',
      'bump',
    ])
  })
})

describe('duration spellings', () => {
  it('takes every duration in Ms; the deprecated spellings still work, lag.maxSeconds in seconds', () => {
    const current = resolve({
      primary: URL_A,
      lag: { maxMs: 2500 },
      pool: { idleTimeoutMs: 1234, connectionTimeoutMs: 4321 },
    })
    expect(current.lag.maxMs).toBe(2500)
    expect(current.nodes[0]!.pool.options).toMatchObject({
      idleTimeoutMillis: 1234,
      connectionTimeoutMillis: 4321,
    })
    const deprecated = resolve({
      primary: URL_A,
      lag: { maxSeconds: 2.5 },
      pool: { idleTimeoutMillis: 1234, connectionTimeoutMillis: 4321 },
    })
    expect(deprecated.lag.maxMs).toBe(2500)
    expect(deprecated.nodes[0]!.pool.options).toMatchObject({
      idleTimeoutMillis: 1234,
      connectionTimeoutMillis: 4321,
    })
  })

  it('refuses both spellings of one option, and names a bad value by the spelling given', () => {
    expect(configError({ primary: URL_A, lag: { maxMs: 1000, maxSeconds: 1 } }).option).toBe('lag.maxSeconds')
    expect(configError({ primary: URL_A, pool: { idleTimeoutMs: 1, idleTimeoutMillis: 1 } }).option).toBe(
      'pool.idleTimeoutMillis',
    )
    expect(configError({ primary: URL_A, lag: { maxMs: -1 } }).option).toBe('lag.maxMs')
    expect(configError({ primary: URL_A, pool: { connectionTimeoutMs: 0 } }).option).toBe(
      'pool.connectionTimeoutMs',
    )
  })
})

describe('types', () => {
  it("gives pg's types to every pool the router creates, and checks them up front", () => {
    const resolved = resolve({ primary: URL_A, replicas: [URL_B], types: pg.types })
    for (const node of resolved.nodes) expect(node.pool.options.types).toBe(pg.types)
    // The router's own connections (probes, WAL positions) parse with pg's defaults.
    for (const node of resolved.nodes) expect(node.connection).not.toHaveProperty('types')
    expect(configError({ primary: URL_A, types: { parse: () => 1 } }).option).toBe('types')
    expect(configError({ primary: URL_A, types: 'pg' }).option).toBe('types')
  })
})

describe('nodes', () => {
  it('names nodes host:port/database (default port 5432), or as configured', () => {
    const resolved = resolve({
      primary: { host: 'db-p.internal', database: 'shop', password: SECRET },
      replicas: [URL_A, URL_B, { name: 'analytics', connectionString: URL_A, weight: 3 }],
    })
    expect(resolved.nodes[0]!.name).toBe('db-p.internal:5432/shop')
    expect(resolved.nodes.slice(1).map((r) => [r.name, r.role, r.weight])).toEqual([
      ['db-a.internal:5433/shop', 'replica', 1],
      ['db-b.internal:5432/shop', 'replica', 1],
      ['analytics', 'replica', 3],
    ])
  })

  it('uses a given pool without owning it, naming it from its options', () => {
    const given = new pg.Pool({ host: 'db-r.internal', port: 6000, database: 'shop', password: SECRET })
    const resolved = resolve({ primary: URL_B, replicas: [given, { name: 'named', pool: given, weight: 2 }] })
    expect(resolved.nodes[0 + 1]).toMatchObject({
      name: 'db-r.internal:6000/shop',
      ownsPool: false,
      weight: 1,
    })
    expect(resolved.nodes[0 + 1]!.pool).toBe(given)
    expect(resolved.nodes[1 + 1]).toMatchObject({ name: 'named', ownsPool: false, weight: 2 })
    // The probe connection needs the password pg-pool keeps non-enumerable.
    expect(resolved.nodes[0 + 1]!.connection.password).toBe(SECRET)
  })

  it('collects every password (config field, URL, given pool) so diagnostics can be scrubbed', () => {
    const given = new pg.Pool({ host: 'h', password: 'pool-pw' })
    const resolved = resolve({
      primary: { host: 'p', password: 'field-pw' },
      replicas: [`postgres://u:${encodeURIComponent('url pw/+')}@h2/db`, given],
    })
    expect([...resolved.secrets].sort()).toEqual(['field-pw', 'pool-pw', 'url pw/+'].sort())
  })
})

describe('validation: a ConfigError naming the option', () => {
  const cases: Array<[option: string, options: unknown]> = [
    ['options', undefined],
    ['options', 'postgres://x'],
    ['options', []],
    ['primary', {}],
    ['primary', { primary: null }],
    ['primary', { primary: '' }],
    ['primary', { primary: '   ' }],
    ['primary', { primary: 42 }],
    ['primary.weight', { primary: { connectionString: URL_A, weight: 2 } }],
    ['primary.name', { primary: { connectionString: URL_A, name: '' } }],
    ['primary.connectionString', { primary: { connectionString: 5 } }],
    ['replicas', { primary: URL_A, replicas: URL_B }],
    ['replicas[1]', { primary: URL_A, replicas: [URL_B, true] }],
    ['replicas[0].weight', { primary: URL_A, replicas: [{ connectionString: URL_B, weight: 0 }] }],
    ['replicas[0].weight', { primary: URL_A, replicas: [{ connectionString: URL_B, weight: -1 }] }],
    ['replicas[0].weight', { primary: URL_A, replicas: [{ connectionString: URL_B, weight: Number.NaN }] }],
    [
      'replicas[0].weight',
      { primary: URL_A, replicas: [{ connectionString: URL_B, weight: Number.POSITIVE_INFINITY }] },
    ],
    ['replicas[0].weight', { primary: URL_A, replicas: [{ connectionString: URL_B, weight: '2' }] }],
    ['replicas[0].name', { primary: URL_A, replicas: [{ connectionString: URL_B, name: 7 }] }],
    ['replicas[0].pool', { primary: URL_A, replicas: [{ pool: { query() {} } }] }],
    ['replicas[1].name', { primary: URL_A, replicas: [URL_B, URL_B] }],
    ['replicas[0].name', { primary: URL_A, replicas: [URL_A] }],
    ['lag', { primary: URL_A, lag: 5 }],
    ['lag', { primary: URL_A, lag: null }],
    ['lag.maxBytes', { primary: URL_A, lag: { maxBytes: -1 } }],
    ['lag.maxBytes', { primary: URL_A, lag: { maxBytes: '16MB' } }],
    ['lag.maxBytes', { primary: URL_A, lag: { maxBytes: Number.NaN } }],
    ['lag.maxSeconds', { primary: URL_A, lag: { maxSeconds: -0.5 } }],
    ['lag.maxSecs', { primary: URL_A, lag: { maxSecs: 1 } }],
    ['healthCheck', { primary: URL_A, healthCheck: [] }],
    ['healthCheck.intervalMs', { primary: URL_A, healthCheck: { intervalMs: 5 } }],
    ['healthCheck.intervalMs', { primary: URL_A, healthCheck: { intervalMs: 100.5 } }],
    ['healthCheck.intervalMs', { primary: URL_A, healthCheck: { intervalMs: Number.POSITIVE_INFINITY } }],
    ['healthCheck.timeoutMs', { primary: URL_A, healthCheck: { timeoutMs: 0 } }],
    ['healthCheck.maxBackoffMs', { primary: URL_A, healthCheck: { maxBackoffMs: 0 } }],
    ['failover.waitMs', { primary: URL_A, failover: { waitMs: -1 } }],
    ['failover.waitMs', { primary: URL_A, failover: { waitMs: 1.5 } }],
    ['failover.waitMs', { primary: URL_A, failover: { waitMs: 86_400_000 } }],
    ['failover.waitMz', { primary: URL_A, failover: { waitMz: 1 } }],
    ['nodes', { nodes: 'postgres://a/app' }],
    ['healthCheck.interval', { primary: URL_A, healthCheck: { interval: 100 } }],
    ['balance', { primary: URL_A, balance: 'fastest' }],
    ['balance', { primary: URL_A, balance: 3 }],
    ['fallback', { primary: URL_A, fallback: 'replica' }],
    ['retry', { primary: URL_A, retry: 3 }],
    ['retry.retries', { primary: URL_A, retry: { retries: -1 } }],
    ['retry.retries', { primary: URL_A, retry: { retries: 1.5 } }],
    ['retry.retries', { primary: URL_A, retry: { retries: Number.POSITIVE_INFINITY } }],
    ['retry.minTimeoutMs', { primary: URL_A, retry: { minTimeoutMs: -5 } }],
    ['retry.maxTimeoutMs', { primary: URL_A, retry: { minTimeoutMs: 500, maxTimeoutMs: 100 } }],
    ['retry.retries', { primary: URL_A, retry: { retries: 1e9 } }],
    ['retry.retries', { primary: URL_A, retry: { retries: 11 } }],
    ['retry.maxTimeoutMs', { primary: URL_A, retry: { maxTimeoutMs: 3_600_000 } }],
    ['healthCheck.timeoutMs', { primary: URL_A, healthCheck: { intervalMs: 1000, timeoutMs: 1000 } }],
    ['healthCheck.timeoutMs', { primary: URL_A, healthCheck: { intervalMs: 100, timeoutMs: 1000 } }],
    ['timeouts', { primary: URL_A, timeouts: 5000 }],
    ['timeouts.readMs', { primary: URL_A, timeouts: { readMs: -1 } }],
    ['timeouts.writeMs', { primary: URL_A, timeouts: { writeMs: '5s' } }],
    ['timeouts.statementMs', { primary: URL_A, timeouts: { statementMs: 5 } }],
    ['pool.connectionTimeoutMillis', { primary: URL_A, pool: { connectionTimeoutMillis: 0 } }],
    [
      'pool.connectionTimeoutMillis',
      { primary: URL_A, pool: { connectionTimeoutMillis: 0 }, timeouts: { readMs: 0, writeMs: 1000 } },
    ],
    ['readYourWrites.maxWaitMs', { primary: URL_A, readYourWrites: { maxWaitMs: 86_400_000 } }],
    ['readYourWrites', { primary: URL_A, readYourWrites: 'on' }],
    ['readYourWrites.maxWaitMs', { primary: URL_A, readYourWrites: { maxWaitMs: -1 } }],
    ['readYourWrites.directCheck', { primary: URL_A, readYourWrites: { directCheck: 'yes' } }],
    ['writeFunctions', { primary: URL_A, writeFunctions: 'audit.log' }],
    ['writeFunctions', { primary: URL_A, writeFunctions: ['ok', ''] }],
    ['writeFunctions', { primary: URL_A, writeFunctions: [42] }],
    ['pool', { primary: URL_A, pool: 'big' }],
    ['pool.max', { primary: URL_A, pool: { max: 0 } }],
    ['pool.idleTimeoutMillis', { primary: URL_A, pool: { idleTimeoutMillis: -1 } }],
    ['pool.connectionTimeoutMillis', { primary: URL_A, pool: { connectionTimeoutMillis: '5s' } }],
    ['pool.ssl', { primary: URL_A, pool: { ssl: true } }],
    ['classifierCacheSize', { primary: URL_A, classifierCacheSize: -1 }],
    ['classifierCacheSize', { primary: URL_A, classifierCacheSize: 10.5 }],
    ['routeEvents', { primary: URL_A, routeEvents: 1 }],
    ['learnRouting', { primary: URL_A, learnRouting: 'no' }],
    ['replica', { primary: URL_A, replica: [URL_B] }],
    ['healthcheck', { primary: URL_A, healthcheck: { intervalMs: 100 } }],
  ]

  it.each(cases)('%s: %j', (option, options) => {
    const error = configError(options)
    expect(error).toBeInstanceOf(ConfigError)
    expect(isPgRouteError(error)).toBe(true)
    expect(error.code).toBe('PGROUTE_INVALID_OPTION')
    expect(error.option).toBe(option)
    expect(error.message).toContain(`\`${option}\``)
    expect(error.message).not.toContain(SECRET)
  })

  it('createRouter throws the same errors, before opening any connection', () => {
    expect(() => createRouter({ primary: URL_A, lag: { maxBytes: -1 } })).toThrow(ConfigError)
    expect(() => createRouter(undefined as unknown as RouterOptions)).toThrow(/`options`/)
  })
})

describe('passwords never show', () => {
  const routers: Array<ReturnType<typeof createRouter>> = []
  afterAll(() => Promise.all(routers.map((router) => router.end())))

  it('not in ConfigError messages, whatever the failing option', () => {
    const failures = [
      { primary: URL_A, replicas: [URL_A] },
      { primary: URL_A, replicas: [{ connectionString: URL_B, weight: -1 }] },
      { primary: { connectionString: URL_A, weight: 1 } },
      { primary: { host: 'x', password: SECRET }, replicas: [{ host: 'x', password: SECRET }] },
    ]
    for (const options of failures) {
      const error = configError(options)
      expect(error.message).not.toContain(SECRET)
      expect(JSON.stringify(error)).not.toContain(SECRET)
    }
  })

  it('not in status(), health(), ready() errors nor node-state events of nodes that cannot be reached', async () => {
    // Port 1 on loopback: connection refused at once.
    const router = createRouter({
      primary: `postgres://app:${SECRET}@127.0.0.1:1/shop`,
      replicas: [
        { name: 'replica-a', host: '127.0.0.1', port: 1, user: 'app', password: SECRET, database: 'shop' },
      ],
      healthCheck: { intervalMs: 600, timeoutMs: 500 },
    })
    routers.push(router)
    const events: NodeStateEvent[] = []
    router.on('node-state', (event) => events.push(event))
    const refused = await router.ready().catch((error: unknown) => error)
    expect(refused).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
    expect(inspect(refused, { depth: 5 })).not.toContain(SECRET)
    expect(JSON.stringify(router.health())).not.toContain(SECRET)
    const status = router.status()
    expect(status.map((row) => [row.name, row.state, row.healthy])).toEqual([
      ['127.0.0.1:1/shop', 'down', false],
      ['replica-a', 'down', false],
    ])
    expect(status[0]!.lastError).toMatch(/ECONNREFUSED/)
    expect(events.length).toBeGreaterThanOrEqual(2)
    expect(JSON.stringify(status)).not.toContain(SECRET)
    expect(JSON.stringify(events)).not.toContain(SECRET)
  })
})
