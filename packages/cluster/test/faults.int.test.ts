import { readFileSync } from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterNode, startCluster } from '../src/index.js'
import { clusterProcesses, processesMatching } from './process-scan.js'

let cluster: Cluster
let replica: ClusterNode

/** Single-letter process state from /proc (`T` stopped, `S` sleeping, ...). */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
}

/** Every process of one node: its postmaster and the children titled with its `cluster_name`. */
function nodeProcesses(node: ClusterNode): number[] {
  const id = cluster.dataDir!.slice(cluster.dataDir!.lastIndexOf('pgroute-cluster-') + 16)
  return processesMatching(`pgroute-${id}-${node.name}:`)
    .map((found) => found.pid)
    .concat(node.pid ?? [])
}

/** Connects and runs `SELECT 1`, giving up after `ms`; resolves to the error, or undefined on success. */
async function tryQuery(node: ClusterNode, ms: number): Promise<unknown> {
  const client = new pg.Client({ ...node.connectionConfig, connectionTimeoutMillis: ms, query_timeout: ms })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return error
  } finally {
    await client.end().catch(() => {})
  }
}

beforeAll(async () => {
  cluster = await startCluster({ replicas: 2, postgresConfig: { max_connections: 30 } })
  replica = cluster.replicas[0]!
  await cluster.primary.query('CREATE TABLE marks (id int PRIMARY KEY)')
  await cluster.waitForReplication()
})

afterAll(async () => {
  await cluster?.stop()
})

describe('hang() and resume()', () => {
  it('freeze every process of the node until resumed', async () => {
    await replica.hang()
    try {
      expect(replica.hung).toBe(true)
      const pids = nodeProcesses(replica)
      expect(pids.length).toBeGreaterThan(3)
      for (const pid of pids) expect(processState(pid)).toBe('T')
      const started = performance.now()
      expect(await tryQuery(replica, 500)).toBeInstanceOf(Error)
      expect(performance.now() - started).toBeLessThan(5000)
      // The other nodes are unaffected.
      expect(await tryQuery(cluster.replicas[1]!, 5000)).toBeUndefined()
    } finally {
      await replica.resume()
    }
    expect(replica.hung).toBe(false)
    for (const pid of nodeProcesses(replica)) expect(processState(pid)).not.toBe('T')
    expect(await tryQuery(replica, 5000)).toBeUndefined()
  })

  it('refuse a stopped node', async () => {
    const other = cluster.replicas[1]!
    await other.stop()
    await expect(other.hang()).rejects.toMatchObject({ code: 'PGROUTE_CLUSTER_INVALID_STATE' })
    await other.start()
  })
})

describe('kill()', () => {
  it('kills a replica with every child at once; start() brings it back streaming', async () => {
    const pids = nodeProcesses(replica)
    await replica.kill()
    expect(replica.running).toBe(false)
    expect(replica.pid).toBeUndefined()
    const deadline = Date.now() + 5000
    while (pids.some((pid) => processesMatching(String(pid)).length > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(nodeProcesses(replica)).toEqual([])
    await replica.start()
    await cluster.primary.query('INSERT INTO marks VALUES (1)')
    await cluster.waitForReplication({ timeoutMs: 20_000 })
    expect((await replica.query('SELECT count(*)::int AS n FROM marks')).rows[0]).toEqual({ n: 1 })
  })

  it('kills the primary; it recovers from the crash on start()', async () => {
    await cluster.primary.query('INSERT INTO marks VALUES (2)')
    await cluster.primary.kill()
    expect(cluster.primary.running).toBe(false)
    await cluster.primary.start()
    expect((await cluster.primary.query('SELECT count(*)::int AS n FROM marks')).rows[0]).toEqual({ n: 2 })
    await cluster.primary.query('INSERT INTO marks VALUES (3)')
    await cluster.waitForReplication({ timeoutMs: 20_000 })
  })
})

describe('occupyConnections()', () => {
  it('takes every slot until release(): new connections get 53300', async () => {
    const held = await replica.occupyConnections()
    try {
      expect(held.count).toBeGreaterThan(20)
      expect(held.count).toBeLessThanOrEqual(30)
      expect(await tryQuery(replica, 5000)).toMatchObject({ code: '53300' })
      expect(await tryQuery(cluster.primary, 5000)).toBeUndefined()
    } finally {
      await held.release()
    }
    await held.release() // idempotent
    expect(await tryQuery(replica, 5000)).toBeUndefined()
  })

  it('holds a given number of connections, or those a role may open', async () => {
    const held = await replica.occupyConnections({ count: 3 })
    expect(held.count).toBe(3)
    await held.release()
    await cluster.primary.query(`CREATE ROLE limited LOGIN PASSWORD 'limited-pw' CONNECTION LIMIT 2`)
    await cluster.waitForReplication()
    const byRole = await replica.occupyConnections({ user: 'limited', password: 'limited-pw' })
    try {
      expect(byRole.count).toBe(2)
      expect(await tryQuery(replica, 5000)).toBeUndefined() // others still connect
    } finally {
      await byRole.release()
    }
  })

  it('rejects a bad count with the option named', async () => {
    await expect(replica.occupyConnections({ count: 0 })).rejects.toMatchObject({
      code: 'PGROUTE_CLUSTER_INVALID_OPTION',
      option: 'count',
    })
  })
})

describe('cluster.stop()', () => {
  it('stops a cluster with a frozen node, leaving no process', async () => {
    const own = await startCluster({ replicas: 1 })
    await own.replicas[0]!.hang()
    await own.primary.hang()
    const started = performance.now()
    await own.stop()
    expect(performance.now() - started).toBeLessThan(15_000)
    expect(clusterProcesses(own.dataDir!)).toEqual([])
  })
})
