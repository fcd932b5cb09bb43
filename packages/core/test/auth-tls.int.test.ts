/**
 * The router on clusters with each authentication method PostgreSQL offers over TCP (`scram-sha-256`, `md5`,
 * `trust`, `cert`) and with TLS verified against the cluster's CA (`sslmode=verify-full`): it connects, probes,
 * routes, and read-your-writes sessions work (their look-ups run on the router's own control connections). A
 * `password` function (as for IAM tokens) reaches every connection the router opens. Each case starts a local
 * cluster of its own; TLS cases need the system's `openssl` and are skipped, with the reason, without it.
 */
import { readFileSync } from 'node:fs'
import { type AuthMethod, type Cluster, startCluster, tlsUnavailable } from '@pgroute/cluster'
import { requireControl } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, isPgRouteError, type Router } from '../src/index.js'
import { portOf, routerFor, WHO } from './helpers/cluster-helpers.js'

/** Probes with room for a TLS or PgBouncer login on a busy machine (FAST_HEALTH gives a probe 150 ms, login included). */
const HEALTH = { intervalMs: 500, timeoutMs: 400, maxBackoffMs: 1000 } as const

let cluster: Cluster | undefined
let router: Router | undefined

afterEach(async () => {
  await router?.end()
  router = undefined
  await cluster?.stop()
  cluster = undefined
})

/** Reads on the replica, writes on the primary, every node up with a known lag, and a read-your-writes session. */
async function expectRouting(cluster: Cluster, router: Router): Promise<void> {
  await router.ready()
  expect(router.status().map((row) => row.state)).toEqual(['up', 'up'])
  expect(portOf(await router.query(WHO))).toBe(cluster.replicas[0]!.port)
  await router.query('CREATE TABLE IF NOT EXISTS auth_rows (v int)')
  const written = await router.session(async () => {
    await router.query('INSERT INTO auth_rows VALUES (1)')
    // Read-your-writes: the primary's WAL position comes over the router's control connection.
    const { rows } = await router.query<{ n: number }>('SELECT count(*)::int AS n FROM auth_rows')
    return { n: rows[0]!.n, token: await router.token() }
  })
  expect(written.n).toBeGreaterThanOrEqual(1)
  const resumed = await router.session(
    async () => (await router.query<{ n: number }>('SELECT count(*)::int AS n FROM auth_rows')).rows[0]!.n,
    { token: written.token },
  )
  expect(resumed).toBe(written.n)
  expect(router.status().every((row) => row.state === 'up' && row.lastError === null)).toBe(true)
}

/** How the session answering `SELECT` logged in, as the server tells (`system_user`, PostgreSQL 16+). */
async function loginOf(router: Router, hint = ''): Promise<{ login: string | null; ssl: boolean }> {
  const { rows } = await router.query<{ login: string | null; ssl: boolean }>(
    `${hint}SELECT system_user AS login, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl`,
  )
  return rows[0]!
}

describe.each<AuthMethod>(['scram-sha-256', 'md5', 'trust'])('%s authentication', (auth) => {
  it('the router connects, probes, routes and keeps sessions', async (context) => {
    requireControl(context, 'starts a cluster of its own with this authentication method')
    cluster = await startCluster({ replicas: 1, auth })
    router = routerFor(cluster, { healthCheck: HEALTH })
    await expectRouting(cluster, router)
    const { login } = await loginOf(router)
    expect(login).toBe(auth === 'trust' ? null : `${auth}:postgres`)
    if (auth === 'trust') expect(cluster.primary.url).toMatch(/^postgres:\/\/postgres@127/)
  })
})

describe('TLS', () => {
  it('verify-full with scram-sha-256: every connection is TLS, verified against the cluster CA', async (context) => {
    requireControl(context, 'starts a TLS cluster of its own')
    const missing = tlsUnavailable()
    if (missing) return context.skip(missing)
    cluster = await startCluster({ replicas: 1, tls: true })
    expect(cluster.primary.url).toContain('sslmode=verify-full')
    router = routerFor(cluster, { healthCheck: HEALTH })
    await expectRouting(cluster, router)
    expect(await loginOf(router)).toEqual({ login: 'scram-sha-256:postgres', ssl: true })
    expect(await loginOf(router, '/* pgroute:primary */ ')).toEqual({
      login: 'scram-sha-256:postgres',
      ssl: true,
    })
    // The router's own connections (probe, control) use TLS too: the server accepts nothing else.
    const { rows } = await cluster.primary.query<{ plain: number }>(
      'SELECT count(*)::int AS plain FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) ' +
        "WHERE a.backend_type = 'client backend' AND NOT s.ssl",
    )
    expect(rows[0]!.plain).toBe(0)
  })

  it('verify-full rejects a server whose certificate the given CA did not sign', async (context) => {
    requireControl(context, 'starts a TLS cluster of its own')
    const missing = tlsUnavailable()
    if (missing) return context.skip(missing)
    cluster = await startCluster({ replicas: 1, tls: true })
    // Without sslrootcert, verify-full checks against the system's CAs, which never signed the throw-away CA.
    const strip = (url: string) => url.replace(/&sslrootcert=[^&]*/, '')
    router = createRouter({
      primary: strip(cluster.primary.url),
      replicas: [strip(cluster.replicas[0]!.url)],
      healthCheck: HEALTH,
    })
    const error = await router.ready().then(
      () => undefined,
      (rejection: unknown) => rejection,
    )
    expect(isPgRouteError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
    expect(router.health().problems.join('\n')).toMatch(/certificate/)
  })

  it('cert authentication: the client certificate logs in, no password anywhere', async (context) => {
    requireControl(context, 'starts a cluster of its own with cert authentication')
    const missing = tlsUnavailable()
    if (missing) return context.skip(missing)
    cluster = await startCluster({ replicas: 1, auth: 'cert' })
    expect(cluster.primary.url).toMatch(/^postgres:\/\/postgres@/)
    router = routerFor(cluster, { healthCheck: HEALTH })
    await expectRouting(cluster, router)
    expect(await loginOf(router)).toEqual({ login: 'cert:CN=postgres', ssl: true })
  })

  it('ssl options given as an object (ca, cert, key) instead of in the URL work the same', async (context) => {
    requireControl(context, 'starts a cluster of its own with cert authentication')
    const missing = tlsUnavailable()
    if (missing) return context.skip(missing)
    cluster = await startCluster({ replicas: 1, auth: 'cert' })
    const parameters = new URL(cluster.primary.url).searchParams
    const ssl = {
      ca: readFileSync(parameters.get('sslrootcert')!, 'utf8'),
      cert: readFileSync(parameters.get('sslcert')!, 'utf8'),
      key: readFileSync(parameters.get('sslkey')!, 'utf8'),
    }
    const node = (n: Cluster['primary']) => ({
      host: n.host,
      port: n.port,
      user: 'postgres',
      database: 'postgres',
      ssl,
    })
    router = createRouter({
      primary: node(cluster.primary),
      replicas: [{ name: 'replica-1', ...node(cluster.replicas[0]!) }],
      healthCheck: HEALTH,
    })
    await expectRouting(cluster, router)
  })
})

describe('a password function (IAM tokens)', () => {
  it("is called for the pools', the probes' and the control connections' logins", async (context) => {
    requireControl(context, 'starts a cluster of its own')
    cluster = await startCluster({ replicas: 1 })
    const secret = cluster.primary.connectionConfig.password
    const logins: string[] = []
    const node = (n: Cluster['primary']) => ({
      host: n.host,
      port: n.port,
      user: 'postgres',
      database: 'postgres',
      // A fresh token per login, fetched asynchronously, as an IAM token signer does.
      password: async () => {
        logins.push(n.name)
        return secret
      },
    })
    router = createRouter({
      primary: node(cluster.primary),
      replicas: [{ name: 'replica-1', ...node(cluster.replicas[0]!) }],
      healthCheck: HEALTH,
    })
    await expectRouting(cluster, router)
    // Per node: the router's own connection (probes and read-your-writes look-ups share it), and one pool
    // connection at least.
    expect(logins.filter((name) => name === 'primary').length).toBeGreaterThanOrEqual(2)
    expect(logins.filter((name) => name === 'replica-1').length).toBeGreaterThanOrEqual(2)
    const { rows } = await cluster.primary.query<{ name: string }>(
      "SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE application_name LIKE 'pgroute-%'",
    )
    expect(rows.map((row) => row.name).sort()).toEqual(['pgroute-monitor'])
  })

  it('a password function that throws marks the node down with its message, never a password', async (context) => {
    requireControl(context, 'starts a cluster of its own')
    cluster = await startCluster({ replicas: 1 })
    const node = (n: Cluster['primary']) => ({
      host: n.host,
      port: n.port,
      user: 'postgres',
      database: 'postgres',
      password: async (): Promise<string> => {
        throw new Error('token signer unavailable')
      },
    })
    router = createRouter({ primary: node(cluster.primary), healthCheck: HEALTH })
    const error = await router.ready().then(
      () => undefined,
      (rejection: unknown) => rejection,
    )
    expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
    expect(router.health().problems[0]).toMatch(/token signer unavailable/)
  })
})
