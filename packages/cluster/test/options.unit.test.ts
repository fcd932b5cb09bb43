import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ClusterError,
  clusterFromEnv,
  connectCluster,
  isClusterError,
  parseDuration,
  type StartClusterOptions,
  startCluster,
} from '../src/index.js'
import { createRedactor, redactUrl } from '../src/redact.js'
import { resolveClusterOptions } from '../src/resolve-options.js'

/** Topology defaults of a replica: streams from the primary, follows the latest timeline. */
const streaming = { upstream: undefined, source: 'stream', recoveryTargetTimeline: 'latest' }

function invalid(options: unknown): ClusterError {
  try {
    resolveClusterOptions(options as StartClusterOptions)
  } catch (error) {
    if (isClusterError(error)) return error
    throw error
  }
  throw new Error('expected a ClusterError')
}

describe('resolveClusterOptions()', () => {
  it('applies defaults', () => {
    const resolved = resolveClusterOptions()
    expect(resolved.replicas).toEqual([
      { ...streaming, name: 'replica-1', slot: 'replica_1', applyDelayMs: 0, synchronous: false },
    ])
    expect(resolved).toMatchObject({
      backend: 'embedded',
      database: 'postgres',
      user: 'postgres',
      keep: false,
    })
    expect(resolved.baseDir).toBe(os.tmpdir())
    expect(resolved.password).toMatch(/^[A-Za-z0-9_-]{24}$/)
    expect(resolveClusterOptions().password).not.toBe(resolved.password)
  })

  it('takes the replica count from replicaOptions when replicas is absent', () => {
    const resolved = resolveClusterOptions({
      replicaOptions: [{ name: 'fast' }, { applyDelay: '2s', synchronous: true }],
    })
    expect(resolved.replicas).toEqual([
      { ...streaming, name: 'fast', slot: 'fast', applyDelayMs: 0, synchronous: false },
      { ...streaming, name: 'replica-2', slot: 'replica_2', applyDelayMs: 2000, synchronous: true },
    ])
    expect(resolveClusterOptions({ replicas: 0 }).replicas).toEqual([])
  })

  it.each([
    [{ replicas: -1 }, 'replicas'],
    [{ replicas: 1.5 }, 'replicas'],
    [{ replicas: '2' }, 'replicas'],
    [{ replicas: 1, replicaOptions: [{}, {}] }, 'replicaOptions'],
    [{ replicaOptions: {} }, 'replicaOptions'],
    [{ replicaOptions: [{ applyDelay: '2 seconds' }] }, 'replicaOptions[0].applyDelay'],
    [{ replicaOptions: [{}, { applyDelay: -5 }] }, 'replicaOptions[1].applyDelay'],
    [{ replicaOptions: [{ name: 'a b' }] }, 'replicaOptions[0].name'],
    [{ replicaOptions: [{ name: 'primary' }] }, 'replicaOptions[0].name'],
    [{ replicaOptions: [{ name: 'x' }, { name: 'x' }] }, 'replicaOptions[1].name'],
    [{ replicaOptions: [{ name: 'a-b' }, { name: 'a_b' }] }, 'replicaOptions[1].name'],
    [{ replicaOptions: [{ synchronous: 'yes' }] }, 'replicaOptions[0].synchronous'],
    [{ backend: 'podman' }, 'backend'],
    [{ database: 'my-db' }, 'database'],
    [{ user: '' }, 'user'],
    [{ password: '' }, 'password'],
    [{ startTimeoutMs: 0 }, 'startTimeoutMs'],
    [{ signal: {} }, 'signal'],
    [{ log: 'verbose' }, 'log'],
    [{ keep: 'yes' }, 'keep'],
    [{ postgresConfig: { port: 5432 } }, 'postgresConfig.port'],
    [{ postgresConfig: { 'bad name': 1 } }, 'postgresConfig.bad name'],
    [{ postgresConfig: { work_mem: {} } }, 'postgresConfig.work_mem'],
  ])('rejects %j naming `%s`', (options, option) => {
    const error = invalid(options)
    expect(error).toBeInstanceOf(ClusterError)
    expect(error.code).toBe('PGROUTE_CLUSTER_INVALID_OPTION')
    expect(error.option).toBe(option)
    expect(error.message).toContain(`\`${option}\``)
  })

  it('renders postgresConfig values as strings', () => {
    const resolved = resolveClusterOptions({
      postgresConfig: { work_mem: '8MB', max_connections: 50, jit: false },
    })
    expect(resolved.postgresConfig).toEqual({ work_mem: '8MB', max_connections: '50', jit: 'off' })
  })

  it('masks the password in log entries', () => {
    const entries: string[] = []
    const resolved = resolveClusterOptions({
      password: 's3cr/et',
      log: (entry) => entries.push(entry.message),
    })
    resolved.log({ source: 'cluster', message: 'conninfo password=s3cr/et url=postgres://u:s3cr%2Fet@h/db' })
    expect(entries).toEqual(['conninfo password=******** url=postgres://u:********@h/db'])
  })
})

describe('parseDuration()', () => {
  it.each([
    [1500, 1500],
    ['1500', 1500],
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1min', 60_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [' 3 s ', 3000],
  ])('%j -> %d ms', (input, ms) => {
    expect(parseDuration(input, 'applyDelay')).toBe(ms)
  })

  it.each([['2 seconds'], ['-1s'], [''], [Number.NaN], [-1], ['1d']])('rejects %j', (input) => {
    expect(() => parseDuration(input, 'applyDelay')).toThrow(/`applyDelay`/)
  })
})

describe('startCluster() validation', () => {
  afterEach(() => {
    delete process.env.PGROUTE_PG_BIN
  })

  it('rejects bad options before starting anything', async () => {
    await expect(startCluster({ replicas: -1 })).rejects.toMatchObject({ option: 'replicas' })
    await expect(startCluster({ backend: 'vm' as 'docker' })).rejects.toMatchObject({
      code: 'PGROUTE_CLUSTER_INVALID_OPTION',
      option: 'backend',
    })
  })

  it('names binDir when it holds no binaries', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'pgroute-empty-'))
    try {
      const error = await startCluster({ binDir: empty }).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'PGROUTE_CLUSTER_BINARIES_NOT_FOUND', option: 'binDir' })
      expect((error as Error).message).toContain(empty)
      process.env.PGROUTE_PG_BIN = empty
      await expect(startCluster()).rejects.toMatchObject({
        code: 'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
        option: 'PGROUTE_PG_BIN',
      })
    } finally {
      rmSync(empty, { recursive: true })
    }
  })
})

describe('external clusters', () => {
  const primaryUrl = 'postgres://app:pa%3Ass@db.example:6432/appdb?sslmode=require'

  it('parses the URLs and refuses control operations', async () => {
    const cluster = connectCluster({ primaryUrl, replicaUrls: ['postgresql://app:pw@10.0.0.2/appdb'] })
    expect(cluster.backend).toBe('external')
    expect(cluster.controllable).toBe(false)
    expect(cluster.primary.connectionConfig).toEqual({
      host: 'db.example',
      port: 6432,
      user: 'app',
      password: 'pa:ss',
      database: 'appdb',
      connectionString: primaryUrl,
    })
    expect(cluster.primary.url).toBe(primaryUrl)
    const replica = cluster.replicas[0]!
    expect([replica.name, replica.port, replica.controllable]).toEqual(['replica-1', 5432, false])
    for (const attempt of [
      () => replica.stop(),
      () => replica.start(),
      () => replica.pauseReplay(),
      () => replica.resumeReplay(),
      () => replica.setApplyDelay('1s'),
      () => cluster.promote(replica),
      () => cluster.followPrimary(replica),
    ]) {
      await expect(attempt()).rejects.toMatchObject({
        code: 'PGROUTE_CLUSTER_NOT_SUPPORTED',
        message: expect.stringContaining('not supported on an external cluster'),
      })
    }
    await cluster.stop() // leaves the servers alone
  })

  it('reads PGROUTE_PRIMARY_URL and PGROUTE_REPLICA_URLS', () => {
    expect(clusterFromEnv({})).toBeUndefined()
    const cluster = clusterFromEnv({
      PGROUTE_PRIMARY_URL: primaryUrl,
      PGROUTE_REPLICA_URLS: 'postgres://a:b@r1:5432/appdb, postgres://a:b@r2:5432/appdb,',
    })
    expect(cluster?.replicas.map((node) => [node.name, node.host])).toEqual([
      ['replica-1', 'r1'],
      ['replica-2', 'r2'],
    ])
  })

  it('names the variable holding a bad URL without echoing it', () => {
    const attempt = () =>
      clusterFromEnv({ PGROUTE_PRIMARY_URL: primaryUrl, PGROUTE_REPLICA_URLS: 'mysql://u:hunter2@h/db' })
    expect(attempt).toThrow(expect.objectContaining({ option: 'PGROUTE_REPLICA_URLS[0]' }))
    expect(attempt).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }))
  })
})

describe('redaction', () => {
  it('masks URL passwords', () => {
    expect(redactUrl('postgres://u:p%40ss@h:1/db')).toBe('postgres://u:********@h:1/db')
    expect(createRedactor('p@ss')('a p@ss b p%40ss')).toBe('a ******** b ********')
  })
})

describe('baseDir', () => {
  it('must be reachable by the server user', async (context) => {
    if (process.getuid?.() !== 0) {
      context.skip(
        'needs root: only then do servers run as another user (nobody), who may be denied the directory',
      )
    }
    const hidden = mkdtempSync(path.join(os.tmpdir(), 'pgroute-hidden-')) // 0700, owned by root
    try {
      await expect(startCluster({ baseDir: hidden })).rejects.toMatchObject({
        code: 'PGROUTE_CLUSTER_INVALID_OPTION',
        option: 'baseDir',
        message: expect.stringContaining("runs as 'nobody'"),
      })
    } finally {
      rmSync(hidden, { recursive: true })
    }
  })
})
