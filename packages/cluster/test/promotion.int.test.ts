import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterNode, isClusterError, startCluster } from '../src/index.js'

let cluster: Cluster
let oldPrimary: ClusterNode
let candidate: ClusterNode
let follower: ClusterNode

async function settled<T>(promise: Promise<T>, withinMs: number): Promise<boolean> {
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), withinMs))
  return Promise.race([promise.then(() => true), timeout])
}

beforeAll(async () => {
  cluster = await startCluster({
    replicas: 2,
    replicaOptions: [{ name: 'candidate' }, { synchronous: true }],
  })
  oldPrimary = cluster.primary
  ;[candidate, follower] = cluster.replicas as [ClusterNode, ClusterNode]
  await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY, origin text)')
  await cluster.primary.query(`INSERT INTO items VALUES (1, 'old primary')`)
  await cluster.waitForReplication()
})

afterAll(async () => {
  await cluster?.stop()
})

describe('synchronous replicas', () => {
  it('are listed in synchronous_standby_names and reported as sync', async () => {
    expect(follower.synchronous).toBe(true)
    const names = await cluster.primary.query('SHOW synchronous_standby_names')
    expect(names.rows[0]).toEqual({ synchronous_standby_names: 'FIRST 1 ("replica-2")' })
    const { rows } = await cluster.primary.query(
      'SELECT application_name, sync_state FROM pg_stat_replication ORDER BY 1',
    )
    expect(rows).toEqual([
      { application_name: 'candidate', sync_state: 'async' },
      { application_name: 'replica-2', sync_state: 'sync' },
    ])
  })

  it('hold commits on the primary while they are down', async () => {
    await follower.stop()
    const insert = cluster.primary.query(`INSERT INTO items VALUES (2, 'waited for the sync replica')`)
    expect(await settled(insert, 700)).toBe(false)
    await follower.start()
    expect(await settled(insert, 20_000)).toBe(true)
    await cluster.waitForReplication()
  })
})

describe('promote()', () => {
  it('refuses to promote the primary', async () => {
    const error = await cluster.promote(cluster.primary).catch((e: unknown) => e)
    expect(isClusterError(error) && error.code).toBe('PGROUTE_CLUSTER_INVALID_STATE')
  })

  it('turns a replica into a writable primary, stops the old one and re-points the other replica', async () => {
    await cluster.promote('candidate')
    expect(cluster.primary).toBe(candidate)
    expect(candidate.role).toBe('primary')
    expect(oldPrimary.role).toBe('former-primary')
    expect(oldPrimary.running).toBe(false)
    expect(cluster.replicas).toEqual([follower])

    const recovery = await candidate.query('SELECT pg_is_in_recovery() AS r')
    expect(recovery.rows[0]).toEqual({ r: false })
    await candidate.query(`INSERT INTO items VALUES (3, 'new primary')`)
    await cluster.waitForReplication({ timeoutMs: 20_000 })
    const rows = await follower.query('SELECT id, origin FROM items ORDER BY id')
    expect(rows.rows).toEqual([
      { id: 1, origin: 'old primary' },
      { id: 2, origin: 'waited for the sync replica' },
      { id: 3, origin: 'new primary' },
    ])
  })

  it('leaves the follower streaming on the new timeline from a slot on the new primary', async () => {
    const receiver = await follower.query<{ status: string; received_tli: number; sender_port: number }>(
      'SELECT status, received_tli, sender_port FROM pg_stat_wal_receiver',
    )
    expect(receiver.rows[0]).toMatchObject({
      status: 'streaming',
      received_tli: 2,
      sender_port: candidate.port,
    })
    const slots = await candidate.query(`SELECT slot_name, active FROM pg_replication_slots`)
    expect(slots.rows).toEqual([{ slot_name: 'replica_2', active: true }])
    // The synchronous replica is synchronous for the new primary too.
    const names = await candidate.query('SHOW synchronous_standby_names')
    expect(names.rows[0]).toEqual({ synchronous_standby_names: 'FIRST 1 ("replica-2")' })
  })

  it('reports the new topology in status()', async () => {
    const status = await cluster.status()
    expect(status.nodes.map((node) => [node.name, node.role, node.reachable, node.inRecovery])).toEqual([
      ['primary', 'former-primary', false, undefined],
      ['candidate', 'primary', true, false],
      ['replica-2', 'replica', true, true],
    ])
  })
})
