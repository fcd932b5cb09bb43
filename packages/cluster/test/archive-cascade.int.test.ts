import { readdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterNode, type StartClusterOptions, startCluster } from '../src/index.js'

const clusters: Cluster[] = []

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.stop()))
})

async function started(options: StartClusterOptions): Promise<Cluster> {
  const cluster = await startCluster(options)
  clusters.push(cluster)
  await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY, origin text)')
  return cluster
}

async function has(node: ClusterNode, id: number): Promise<boolean> {
  return (await node.query('SELECT 1 FROM items WHERE id = $1', [id])).rowCount === 1
}

async function senders(node: ClusterNode): Promise<string[]> {
  const { rows } = await node.query<{ application_name: string }>(
    `SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1`,
  )
  return rows.map((row) => row.application_name)
}

async function slots(node: ClusterNode): Promise<string[]> {
  const { rows } = await node.query<{ slot_name: string }>(
    'SELECT slot_name FROM pg_replication_slots ORDER BY 1',
  )
  return rows.map((row) => row.slot_name)
}

async function walReceivers(node: ClusterNode): Promise<number> {
  return (await node.query('SELECT 1 FROM pg_stat_wal_receiver')).rowCount ?? 0
}

async function settingOf(node: ClusterNode, name: string): Promise<string> {
  const { rows } = await node.query<{ value: string }>('SELECT current_setting($1) AS value', [name])
  return rows[0]!.value
}

describe('WAL archiving with an archive-fed replica (log shipping)', () => {
  it('archives finished segments, and the archive-fed replica restores them with no WAL receiver and no slot', async () => {
    const cluster = await started({ replicaOptions: [{}, { source: 'archive' }], archive: true })
    const [streaming, shipped] = cluster.replicas as [ClusterNode, ClusterNode]
    expect(shipped.walSource).toBe('archive')
    expect(shipped.upstream).toBeUndefined()
    expect(streaming.upstream).toBe(cluster.primary)
    expect(await settingOf(cluster.primary, 'archive_mode')).toBe('on')
    expect(await settingOf(shipped, 'primary_conninfo')).toBe('')
    expect(await settingOf(shipped, 'restore_command')).toContain(cluster.archiveDir)
    expect(await senders(cluster.primary)).toEqual(['replica-1'])
    expect(await slots(cluster.primary)).toEqual(['replica_1'])
    expect(await walReceivers(shipped)).toBe(0)

    await cluster.primary.query(`INSERT INTO items VALUES (1, 'primary')`)
    // Streaming brings the row at once; the archive-fed replica only once the segment is closed and archived.
    await cluster.waitForReplication()
    expect(await has(streaming, 1)).toBe(true)
    await cluster.waitForReplication({ replicas: [shipped], timeoutMs: 20_000 })
    expect(await has(shipped, 1)).toBe(true)
    // The segment the replica replayed up to came from the archive. (Not the primary's current segment: a switch
    // may have begun the next one, not archived yet.)
    const { rows } = await shipped.query<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')
    expect(readdirSync(cluster.archiveDir!)).toContain(walFileOf(rows[0]!.lsn))
    const receive = await shipped.query('SELECT pg_last_wal_receive_lsn() AS lsn, pg_is_in_recovery() AS r')
    expect(receive.rows[0]).toEqual({ lsn: null, r: true })
  })

  it('closes a segment every archive.timeout while WAL is written, from the start and after a promotion', async () => {
    const cluster = await started({ replicaOptions: [{}, { source: 'archive' }], archive: { timeout: '1s' } })
    const [candidate, shipped] = cluster.replicas as [ClusterNode, ClusterNode]
    await cluster.waitForReplication({ replicas: cluster.replicas })
    // No pg_switch_wal() here: only archive_timeout brings the rows to the archive-fed replica.
    const reaches = async (id: number) => {
      const deadline = Date.now() + 15_000
      while (Date.now() < deadline) {
        await cluster.primary.query('INSERT INTO items VALUES ($1, $2) ON CONFLICT DO NOTHING', [
          id,
          'steady',
        ])
        if (await has(shipped, id)) return true
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      return false
    }
    expect(await reaches(1)).toBe(true)
    await cluster.promote(candidate)
    expect(await reaches(2)).toBe(true)
  })

  it("follows a promotion through the archive onto the new timeline, unless recoveryTargetTimeline is 'current'", async () => {
    const cluster = await started({
      replicaOptions: [{}, { source: 'archive' }, { source: 'archive', recoveryTargetTimeline: 'current' }],
      archive: true,
    })
    const [candidate, latest, current] = cluster.replicas as [ClusterNode, ClusterNode, ClusterNode]
    expect(await settingOf(latest, 'recovery_target_timeline')).toBe('latest')
    expect(await settingOf(current, 'recovery_target_timeline')).toBe('current')
    await cluster.primary.query(`INSERT INTO items VALUES (1, 'old primary')`)
    await cluster.waitForReplication({ replicas: cluster.replicas })
    await cluster.promote(candidate)
    expect(latest.walSource).toBe('archive') // not re-pointed: it keeps restoring from the archive
    await cluster.primary.query(`INSERT INTO items VALUES (2, 'new primary')`)
    await cluster.waitForReplication({ replicas: [latest], timeoutMs: 20_000 })
    expect(await has(latest, 2)).toBe(true)
    expect(readdirSync(cluster.archiveDir!)).toContain('00000002.history')
    // The same archive held the new timeline for both; the replica told to stay on its timeline did not take it.
    expect(await has(current, 2)).toBe(false)
    expect(await has(current, 1)).toBe(true)
  })
})

describe('cascading replicas', () => {
  it('stream from their upstream replica through a slot there, not from the primary', async () => {
    const cluster = await started({
      replicaOptions: [{}, { upstream: 'replica-1' }, { upstream: 'replica-2' }],
    })
    const [upstream, cascade, second] = cluster.replicas as [ClusterNode, ClusterNode, ClusterNode]
    expect(cascade.upstream).toBe(upstream)
    expect(second.upstream).toBe(cascade)
    expect(await senders(cluster.primary)).toEqual(['replica-1'])
    expect(await senders(upstream)).toEqual(['replica-2'])
    expect(await senders(cascade)).toEqual(['replica-3'])
    expect(await slots(cluster.primary)).toEqual(['replica_1'])
    expect(await slots(upstream)).toEqual(['replica_2'])
    expect(await settingOf(cascade, 'primary_conninfo')).toContain(`port='${upstream.port}'`)
    await cluster.primary.query(`INSERT INTO items VALUES (1, 'primary')`)
    await cluster.waitForReplication() // cascades included by default
    for (const node of cluster.replicas) expect(await has(node, 1)).toBe(true)
  })

  it('keep their upstream through a promotion elsewhere and follow the new timeline', async () => {
    const cluster = await started({ replicaOptions: [{}, {}, { upstream: 'replica-1' }] })
    const [upstream, candidate, cascade] = cluster.replicas as [ClusterNode, ClusterNode, ClusterNode]
    await cluster.waitForReplication()
    await cluster.promote(candidate)
    expect(upstream.upstream).toBe(candidate) // re-pointed: it streamed from the old primary
    expect(cascade.upstream).toBe(upstream) // kept
    await cluster.primary.query(`INSERT INTO items VALUES (2, 'new primary')`)
    await cluster.waitForReplication({ replicas: [cascade], timeoutMs: 20_000 })
    expect(await has(cascade, 2)).toBe(true)
    const { rows } = await cascade.query<{ tli: number }>(
      'SELECT received_tli AS tli FROM pg_stat_wal_receiver',
    )
    expect(rows).toEqual([{ tli: 2 }])
  })

  it('stream from the promoted node when their upstream is promoted', async () => {
    const cluster = await started({ replicaOptions: [{}, { upstream: 'replica-1' }] })
    const [candidate, cascade] = cluster.replicas as [ClusterNode, ClusterNode]
    await cluster.waitForReplication()
    await cluster.promote(candidate)
    expect(cascade.upstream).toBe(cluster.primary)
    await cluster.primary.query(`INSERT INTO items VALUES (2, 'new primary')`)
    await cluster.waitForReplication({ timeoutMs: 20_000 })
    expect(await has(cascade, 2)).toBe(true)
    expect(await senders(candidate)).toEqual(['replica-2'])
  })
})

/**
 * The name of the WAL file (timeline 1, 16 MiB segments) holding the record that ends at `lsn`, as
 * `pg_walfile_name()` gives it on a primary (a standby may not call it).
 */
function walFileOf(lsn: string): string {
  const [high, low] = lsn.split('/').map((part) => BigInt(`0x${part}`)) as [bigint, bigint]
  const segment = ((high << 32n) + low - 1n) / (16n << 20n)
  const hex = (value: bigint) => value.toString(16).toUpperCase().padStart(8, '0')
  return `${hex(1n)}${hex(segment / 256n)}${hex(segment % 256n)}`
}
