import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterNode, startCluster } from '../src/index.js'

let cluster: Cluster
let oldPrimary: ClusterNode
let newPrimary: ClusterNode
let follower: ClusterNode

async function origins(node: ClusterNode): Promise<string[]> {
  const { rows } = await node.query<{ origin: string }>('SELECT origin FROM items ORDER BY id')
  return rows.map((row) => row.origin)
}

/** The timeline a primary writes on, or a replica receives (the last checkpoint's may be older). */
async function timeline(node: ClusterNode): Promise<number> {
  const { rows } = await node.query<{ tli: number }>(
    `SELECT CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver)
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS tli`,
  )
  return rows[0]!.tli
}

async function inRecovery(node: ClusterNode): Promise<boolean> {
  return (await node.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r
}

/** Polls until `node` has the row `origin` (replication is asynchronous). */
async function waitForOrigin(node: ClusterNode, origin: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await origins(node)).includes(origin)) {
    if (Date.now() > deadline) throw new Error(`${origin} never reached ${node.name}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  cluster = await startCluster({ replicas: 2 })
  oldPrimary = cluster.primary
  ;[newPrimary, follower] = cluster.replicas as [ClusterNode, ClusterNode]
  await oldPrimary.query('CREATE TABLE items (id serial PRIMARY KEY, origin text)')
  await oldPrimary.query(`INSERT INTO items (origin) VALUES ('before')`)
  await cluster.waitForReplication()
})

afterAll(async () => {
  await cluster?.stop()
})

describe('split brain', () => {
  it('promote() without re-pointing leaves the other replica on the old primary', async () => {
    await cluster.promote(newPrimary, { follow: false })
    expect(cluster.primary).toBe(newPrimary)
    expect(oldPrimary.running).toBe(false)
    expect(cluster.replicas).toEqual([follower])
    await newPrimary.query(`INSERT INTO items (origin) VALUES ('new primary')`)
  })

  it('startStandalone() runs the old primary read-write on its own; its follower streams from it', async () => {
    await oldPrimary.startStandalone()
    expect(oldPrimary.role).toBe('standalone')
    expect(oldPrimary.running).toBe(true)
    expect(await inRecovery(oldPrimary)).toBe(false)
    await oldPrimary.query(`INSERT INTO items (origin) VALUES ('split brain')`)
    await waitForOrigin(follower, 'split brain')
    expect(await origins(follower)).toEqual(['before', 'split brain'])
    expect(await origins(newPrimary)).toEqual(['before', 'new primary'])
    expect(await timeline(oldPrimary)).toBe(1)
    expect(await timeline(newPrimary)).toBe(2)
    const receiver = await follower.query('SELECT status, sender_port FROM pg_stat_wal_receiver')
    expect(receiver.rows[0]).toEqual({ status: 'streaming', sender_port: oldPrimary.port })
  })

  it('refuses a running node and the primary', async () => {
    await expect(oldPrimary.startStandalone()).rejects.toMatchObject({
      code: 'PGROUTE_CLUSTER_INVALID_STATE',
    })
    await newPrimary.stop()
    await expect(newPrimary.startStandalone()).rejects.toMatchObject({
      code: 'PGROUTE_CLUSTER_INVALID_STATE',
    })
    await newPrimary.start()
  })
})

describe('rejoin()', () => {
  it('re-seeds the running old primary as a replica of the new primary, which keeps taking writes', async () => {
    let writes = 0
    let writing = true
    const writer = (async () => {
      while (writing) {
        await newPrimary.query(`INSERT INTO items (origin) VALUES ('during rejoin')`)
        writes++
      }
    })()
    try {
      await cluster.rejoin(oldPrimary)
    } finally {
      writing = false
      await writer
    }
    expect(writes).toBeGreaterThan(0)
    expect(oldPrimary.role).toBe('replica')
    expect(cluster.replicas).toContain(oldPrimary)
    expect(await inRecovery(oldPrimary)).toBe(true)
    await newPrimary.query(`INSERT INTO items (origin) VALUES ('after rejoin')`)
    await cluster.waitForReplication({ replicas: [oldPrimary], timeoutMs: 20_000 })
    const seen = await origins(oldPrimary)
    expect(seen).toEqual(await origins(newPrimary))
    expect(seen).not.toContain('split brain')
    expect(seen.filter((origin) => origin === 'during rejoin')).toHaveLength(writes)
    expect(await timeline(oldPrimary)).toBe(2)
    const receiver = await oldPrimary.query('SELECT status, sender_port FROM pg_stat_wal_receiver')
    expect(receiver.rows[0]).toEqual({ status: 'streaming', sender_port: newPrimary.port })
  })

  it('re-seeds a replica that followed the fenced node', async () => {
    await cluster.rejoin(follower)
    await cluster.waitForReplication({ timeoutMs: 20_000 })
    expect(await origins(follower)).toEqual(await origins(newPrimary))
    const status = await cluster.status()
    expect(status.nodes.map((node) => [node.name, node.role, node.inRecovery])).toEqual([
      ['primary', 'replica', true],
      ['replica-1', 'primary', false],
      ['replica-2', 'replica', true],
    ])
  })

  it('turns a stopped replica standalone, then back', async () => {
    await follower.stop()
    await follower.startStandalone()
    expect(follower.role).toBe('standalone')
    expect(await inRecovery(follower)).toBe(false)
    expect(cluster.replicas).toEqual([oldPrimary])
    await cluster.rejoin(follower)
    expect(await inRecovery(follower)).toBe(true)
    expect(cluster.replicas).toEqual([oldPrimary, follower])
  })

  it('refuses the primary', async () => {
    await expect(cluster.rejoin(newPrimary)).rejects.toMatchObject({ code: 'PGROUTE_CLUSTER_INVALID_STATE' })
  })
})
