import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePort } from '../src/free-port.js'
import { type Cluster, isClusterError, startCluster } from '../src/index.js'
import { plainPool, requireControl, startTestCluster } from '../src/testing/index.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))

/** Loopback URLs of ports where nothing listens. */
async function deadUrls(): Promise<{ PGROUTE_PRIMARY_URL: string; PGROUTE_REPLICA_URLS: string }> {
  const primary = await findFreePort()
  const replica = await findFreePort(new Set([primary]))
  return {
    PGROUTE_PRIMARY_URL: `postgres://app:Secret123pw@127.0.0.1:${primary}/app`,
    PGROUTE_REPLICA_URLS: `postgres://app:Secret123pw@127.0.0.1:${replica}/app`,
  }
}

describe('an external cluster that does not answer', () => {
  it('fails the suite with PGROUTE_CLUSTER_UNREACHABLE after the connect timeout, without a local fallback', async () => {
    const env = await deadUrls()
    const started = Date.now()
    const error = await startTestCluster({ replicas: 1, env, connectTimeoutMs: 2000 }).catch(
      (e: unknown) => e,
    )
    const elapsed = Date.now() - started
    expect(isClusterError(error) && error.code).toBe('PGROUTE_CLUSTER_UNREACHABLE')
    expect(String((error as Error).message)).toMatch(/\(127\.0\.0\.1:\d+\) .* did not answer within 2000 ms/)
    expect(String((error as Error).message)).toContain('never fall back to a local cluster')
    expect(String((error as Error).message)).not.toContain('Secret123pw')
    expect(elapsed).toBeGreaterThanOrEqual(1800) // retried until the timeout, not given up at the first refusal
    expect(elapsed).toBeLessThan(15_000)
  })

  it('fails a whole vitest run within a minute, before any suite starts', async () => {
    const env = await deadUrls()
    const started = Date.now()
    const child = spawn('pnpm', ['vitest', 'run', 'packages/core/test/routing.int.test.ts'], {
      cwd: root,
      env: { ...process.env, ...env, FORCE_COLOR: '0' },
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
    clearTimeout(timer)
    const elapsed = Date.now() - started
    expect(status, output).not.toBe(0)
    expect(output).toContain('PGROUTE_CLUSTER_UNREACHABLE')
    expect(output).not.toMatch(/Tests +\d+ passed/)
    expect(output).not.toContain('Secret123pw')
    expect(elapsed).toBeLessThan(60_000)
  })
})

describe('an external cluster (a local one reached through its URLs)', () => {
  let local: Cluster
  let env: NodeJS.ProcessEnv
  const suites: Cluster[] = []

  beforeAll(async () => {
    local = await startCluster({ replicas: 2 })
    env = {
      PGROUTE_PRIMARY_URL: local.primary.url,
      PGROUTE_REPLICA_URLS: local.replicas.map((replica) => replica.url).join(', '),
    }
  })
  afterAll(async () => {
    for (const suite of suites) await suite.stop()
    await local?.stop()
  })

  async function suite(replicas: number): Promise<Cluster> {
    const cluster = await startTestCluster({ replicas, replicaOptions: [{}, { applyDelay: '2s' }], env })
    suites.push(cluster)
    return cluster
  }

  it('gives each suite the replicas it asks for, uncontrollable, in a database of its own', async () => {
    const one = await suite(1)
    const two = await suite(2)
    expect(one.backend).toBe('external')
    expect(one.controllable).toBe(false)
    expect(one.replicas.map((replica) => replica.port)).toEqual([local.replicas[0]!.port])
    expect(two.replicas.map((replica) => replica.applyDelayMs)).toEqual([0, 0])
    expect(one.database).toMatch(/^pgroute_test_\d+_[0-9a-f]{8}$/)
    expect(two.database).not.toBe(one.database)
    expect(new URL(one.replicas[0]!.url).pathname).toBe(`/${one.database}`)
    await one.primary.query('CREATE TABLE item (id int)')
    await two.primary.query('CREATE TABLE item (id int, name text)')
    await one.primary.query('INSERT INTO item VALUES (1), (2)')
    await one.waitForReplication()
    const { rows } = await one.replicas[0]!.query('SELECT count(*)::int AS n FROM item')
    expect(rows).toEqual([{ n: 2 }])
    const other = await two.replicas[1]!.query('SELECT count(*)::int AS n FROM item')
    expect(other.rows).toEqual([{ n: 0 }])
  })

  it('drops the database on stop(), even with sessions open, and leaves the servers running', async () => {
    const cluster = await suite(1)
    const open = plainPool(cluster.replicas[0]!.url)
    await open.query('SELECT 1')
    await cluster.stop()
    await open.end()
    const { rows } = await local.primary.query(
      'SELECT count(*)::int AS n FROM pg_database WHERE datname = $1',
      [cluster.database],
    )
    expect(rows).toEqual([{ n: 0 }])
    expect((await local.primary.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('refuses a suite that needs more replicas than the variables name', async () => {
    const error = await startTestCluster({ replicas: 3, env }).catch((e: unknown) => e)
    expect(isClusterError(error) && error.code).toBe('PGROUTE_CLUSTER_INVALID_STATE')
    expect(String(error)).toMatch(/needs 3 replicas; PGROUTE_REPLICA_URLS names 2/)
  })

  it('refuses a replica URL that points at the primary, and two nodes on one port', async () => {
    const swapped = { PGROUTE_PRIMARY_URL: local.primary.url, PGROUTE_REPLICA_URLS: local.primary.url }
    const error = await startTestCluster({ env: swapped, connectTimeoutMs: 5000 }).catch((e: unknown) => e)
    expect(isClusterError(error) && error.code).toBe('PGROUTE_CLUSTER_INVALID_STATE')
    expect(String(error)).toMatch(/replica-1 .* is not in recovery; expected a hot standby/)
    const twice = { ...env, PGROUTE_REPLICA_URLS: `${local.replicas[0]!.url},${local.replicas[0]!.url}` }
    const shared = await startTestCluster({ env: twice, connectTimeoutMs: 5000 }).catch((e: unknown) => e)
    expect(String(shared)).toMatch(/replica-2 and replica-1 .* both listen on port/)
  })

  it('requireControl skips with the reason when the variables are set, and does nothing otherwise', () => {
    const notes: Array<string | undefined> = []
    const context = { skip: (note?: string) => void notes.push(note) }
    requireControl(context, 'stops a replica', env)
    requireControl(context, 'stops a replica', {})
    expect(notes).toEqual(['needs control of the servers: stops a replica'])
  })
})
