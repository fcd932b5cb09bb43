import { afterEach, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterNode, type StartClusterOptions, startCluster } from '../src/index.js'

const clusters: Cluster[] = []

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.stop()))
})

async function started(options: StartClusterOptions): Promise<Cluster> {
  const cluster = await startCluster(options)
  clusters.push(cluster)
  await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY)')
  return cluster
}

async function syncStates(cluster: Cluster): Promise<Record<string, string | undefined>> {
  const { nodes } = await cluster.status()
  return Object.fromEntries(nodes.filter((n) => n.role === 'replica').map((n) => [n.name, n.syncState]))
}

async function has(node: ClusterNode, id: number): Promise<boolean> {
  return (await node.query('SELECT 1 FROM items WHERE id = $1', [id])).rowCount === 1
}

/** Polls the primary's `pg_stat_replication` until `check` holds for the sync states it reports. */
async function waitForSyncStates(
  cluster: Cluster,
  check: (states: Record<string, string | undefined>) => boolean,
): Promise<Record<string, string | undefined>> {
  let states: Record<string, string | undefined> = {}
  for (let attempt = 0; attempt < 200; attempt++) {
    states = await syncStates(cluster)
    if (check(states)) return states
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`sync states never matched: ${JSON.stringify(states)}`)
}

describe('FIRST n with remote_apply', () => {
  it('lists FIRST 1, reports sync and potential, and a commit returns only once the sync standby applied it', async () => {
    const cluster = await started({
      replicaOptions: [{ synchronous: true }, { synchronous: true }, {}],
      synchronousMethod: 'first',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
    })
    const [first, second, async] = cluster.replicas as [ClusterNode, ClusterNode, ClusterNode]
    const shown = await cluster.primary.query(
      `SELECT current_setting('synchronous_standby_names') AS names, current_setting('synchronous_commit') AS commit`,
    )
    expect(shown.rows[0]).toEqual({ names: 'FIRST 1 ("replica-1", "replica-2")', commit: 'remote_apply' })
    expect(
      await waitForSyncStates(cluster, (s) => s['replica-1'] === 'sync' && s['replica-2'] === 'potential'),
    ).toEqual({ 'replica-1': 'sync', 'replica-2': 'potential', 'replica-3': 'async' })

    // remote_apply: with replay paused on the sync standby, the commit waits until replay resumes.
    await first.pauseReplay()
    const order: string[] = []
    const insert = cluster.primary.query('INSERT INTO items VALUES (1)').then(() => order.push('committed'))
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await has(first, 1)).toBe(false)
    order.push('resumed')
    await first.resumeReplay()
    await insert
    expect(order).toEqual(['resumed', 'committed'])
    // Every commit acknowledged under remote_apply is visible on the sync standby at once.
    for (let id = 2; id < 22; id++) {
      await cluster.primary.query('INSERT INTO items VALUES ($1)', [id])
      expect(await has(first, id)).toBe(true)
    }
    expect(second.synchronous && async.synchronous === false).toBe(true)
  })

  it('moves the sync role to the potential standby while the first is down', async () => {
    const cluster = await started({
      replicaOptions: [{ synchronous: true }, { synchronous: true }],
      synchronousMethod: 'first',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
    })
    const [first] = cluster.replicas as [ClusterNode, ClusterNode]
    await first.stop()
    expect(await waitForSyncStates(cluster, (s) => s['replica-2'] === 'sync')).toEqual({
      'replica-1': undefined,
      'replica-2': 'sync',
    })
    await cluster.primary.query('INSERT INTO items VALUES (1)') // does not block: replica-2 acknowledges
    expect(await has(cluster.node('replica-2'), 1)).toBe(true)
    await first.start()
    expect(
      await waitForSyncStates(cluster, (s) => s['replica-1'] === 'sync' && s['replica-2'] === 'potential'),
    ).toEqual({ 'replica-1': 'sync', 'replica-2': 'potential' })
  })
})

describe('ANY n (quorum)', () => {
  it('lists ANY 1, reports quorum for each, and commits with one of them down', async () => {
    const cluster = await started({
      replicaOptions: [{ synchronous: true }, { synchronous: true }],
      synchronousMethod: 'any',
      synchronousCount: 1,
      synchronousCommit: 'on',
    })
    const shown = await cluster.primary.query('SHOW synchronous_standby_names')
    expect(shown.rows[0]).toEqual({ synchronous_standby_names: 'ANY 1 ("replica-1", "replica-2")' })
    expect(
      await waitForSyncStates(cluster, (s) => s['replica-1'] === 'quorum' && s['replica-2'] === 'quorum'),
    ).toEqual({ 'replica-1': 'quorum', 'replica-2': 'quorum' })
    await cluster.node('replica-1').stop()
    await cluster.primary.query('INSERT INTO items VALUES (1)')
    expect(await syncStates(cluster)).toEqual({ 'replica-1': undefined, 'replica-2': 'quorum' })
  })
})

describe('synchronous_commit per cluster', () => {
  it("'on' returns once the standby flushed: a commit does not wait for a paused replay", async () => {
    const cluster = await started({ replicaOptions: [{ synchronous: true }], synchronousCommit: 'on' })
    const sync = cluster.replicas[0]!
    await sync.pauseReplay()
    const order: string[] = []
    const insert = cluster.primary.query('INSERT INTO items VALUES (1)').then(() => order.push('committed'))
    const settled = await Promise.race([
      insert.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 20_000)),
    ])
    order.push('resumed')
    expect(settled).toBe(true)
    expect(await has(sync, 1)).toBe(false) // acknowledged, not applied yet
    await sync.resumeReplay()
    await insert
    expect(order).toEqual(['committed', 'resumed'])
  })

  it.each(['local', 'remote_write'] as const)('sets %s on every node', async (commit) => {
    const cluster = await started({ replicaOptions: [{ synchronous: true }], synchronousCommit: commit })
    for (const node of cluster.nodes) {
      expect((await node.query('SHOW synchronous_commit')).rows[0]).toEqual({ synchronous_commit: commit })
    }
  })
})
