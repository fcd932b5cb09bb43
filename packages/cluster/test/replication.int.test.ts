import net from 'node:net'
import { inspect } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterLogEntry, type ClusterNode, startCluster } from '../src/index.js'

const applyDelayMs = 1500
const logs: ClusterLogEntry[] = []
let cluster: Cluster
let startMs: number
let fast: ClusterNode
let delayed: ClusterNode

async function count(node: ClusterNode, marker: string): Promise<number> {
  const { rows } = await node.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM events WHERE marker = $1',
    [marker],
  )
  return rows[0]!.n
}

/** Milliseconds from `since` until `marker` is visible on `node`. */
async function visibleAfter(
  node: ClusterNode,
  marker: string,
  since: number,
  limitMs = 10_000,
): Promise<number> {
  while (performance.now() - since < limitMs) {
    if ((await count(node, marker)) > 0) return performance.now() - since
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`${marker} not visible on ${node.name} within ${limitMs} ms`)
}

beforeAll(async () => {
  const started = performance.now()
  cluster = await startCluster({
    replicas: 2,
    replicaOptions: [{}, { applyDelay: `${applyDelayMs}ms` }],
    log: (entry) => logs.push(entry),
  })
  startMs = performance.now() - started
  ;[fast, delayed] = cluster.replicas as [ClusterNode, ClusterNode]
  await cluster.primary.query('CREATE TABLE events (id serial PRIMARY KEY, marker text NOT NULL)')
  await cluster.waitForReplication({ replicas: cluster.replicas, timeoutMs: 10_000 })
})

afterAll(async () => {
  await cluster?.stop()
})

describe('a started cluster', () => {
  it('starts a primary and two replicas', () => {
    // Start-up time is a figure for benches, not a bound here: a loaded machine may take longer.
    console.log(`startCluster({ replicas: 2 }) took ${Math.round(startMs)} ms`)
    expect(cluster.primary.name).toBe('primary')
    expect(cluster.replicas.map((node) => node.name)).toEqual(['replica-1', 'replica-2'])
    expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(3)
    for (const node of cluster.nodes) expect(node.pid).toBeGreaterThan(0)
  })

  it('has real hot standbys: pg_is_in_recovery() is true on replicas only', async () => {
    const recovery = await Promise.all(
      cluster.nodes.map(async (node) => (await node.query('SELECT pg_is_in_recovery() AS r')).rows[0]?.r),
    )
    expect(recovery).toEqual([false, true, true])
    await expect(fast.query('CREATE TABLE nope (id int)')).rejects.toMatchObject({ code: '25006' })
  })

  it('streams to each replica through its own physical slot', async () => {
    const { rows } = await cluster.primary.query<{
      application_name: string
      state: string
      slot_name: string
    }>(
      `SELECT r.application_name, r.state, s.slot_name
         FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid ORDER BY 1`,
    )
    expect(rows).toEqual([
      { application_name: 'replica-1', state: 'streaming', slot_name: 'replica_1' },
      { application_name: 'replica-2', state: 'streaming', slot_name: 'replica_2' },
    ])
    const settings = await delayed.query<{ hot_standby_feedback: string; delay: string }>(
      `SELECT current_setting('hot_standby_feedback') AS hot_standby_feedback,
              current_setting('recovery_min_apply_delay') AS delay`,
    )
    expect(settings.rows[0]).toEqual({ hot_standby_feedback: 'off', delay: '1500ms' })
  })

  it('authenticates with the per-cluster password over TCP (scram-sha-256) and rejects a wrong one', async () => {
    const config = cluster.primary.connectionConfig
    expect(config.password.length).toBeGreaterThanOrEqual(16)
    expect(cluster.primary.url).toBe(
      `postgres://postgres:${encodeURIComponent(config.password)}@127.0.0.1:${config.port}/postgres`,
    )
    const client = new pg.Client({ connectionString: cluster.replicas[1]!.url })
    await client.connect()
    const role = await client.query(
      `SELECT left(rolpassword, 14) AS kind FROM pg_authid WHERE rolname = 'postgres'`,
    )
    await client.end()
    expect(role.rows).toEqual([{ kind: 'SCRAM-SHA-256$' }])
    const hba = await cluster.primary.query<{ auth_method: string }>(
      `SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'`,
    )
    expect(hba.rows).toEqual([{ auth_method: 'scram-sha-256' }])
    const wrong = new pg.Client({ ...config, password: 'wrong-password' })
    await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' })
  })

  it('replicates a row written on the primary to each replica', async () => {
    await cluster.primary.query(`INSERT INTO events (marker) VALUES ('replicated')`)
    await cluster.waitForReplication({ replicas: cluster.replicas, timeoutMs: 10_000 })
    for (const node of cluster.nodes) expect(await count(node, 'replicated')).toBe(1)
  })

  it('makes the delayed replica measurably late', async () => {
    const since = performance.now()
    await cluster.primary.query(`INSERT INTO events (marker) VALUES ('delay-probe')`)
    const [fastMs, delayedMs] = await Promise.all([
      visibleAfter(fast, 'delay-probe', since),
      visibleAfter(delayed, 'delay-probe', since),
    ])
    console.log(
      `row visible on ${fast.name} after ${Math.round(fastMs)} ms, on ${delayed.name} after ${Math.round(delayedMs)} ms`,
    )
    // A lower bound only (the delay can be longer on a busy machine, never shorter), and the order.
    expect(delayedMs).toBeGreaterThanOrEqual(applyDelayMs - 100)
    expect(fastMs).toBeLessThan(delayedMs)
  })

  it('waitForReplication() skips the delayed replica by default and waits for it when asked', async () => {
    // An hour's delay: had waitForReplication() waited for the delayed replica, it would time out.
    await delayed.setApplyDelay('1h')
    try {
      await cluster.primary.query(`INSERT INTO events (marker) VALUES ('wait')`)
      await cluster.waitForReplication({ timeoutMs: 20_000 })
      expect(await count(fast, 'wait')).toBe(1)
      expect(await count(delayed, 'wait')).toBe(0)
    } finally {
      await delayed.setApplyDelay(`${applyDelayMs}ms`)
    }
    await cluster.waitForReplication({ replicas: [delayed], timeoutMs: 20_000 })
    expect(await count(delayed, 'wait')).toBe(1)
  })

  it('changes the apply delay on the fly', async () => {
    await delayed.setApplyDelay('1h')
    expect(delayed.applyDelayMs).toBe(3_600_000)
    await cluster.primary.query(`INSERT INTO events (marker) VALUES ('undelayed')`)
    await cluster.waitForReplication({ replicas: [fast] })
    expect(await count(delayed, 'undelayed')).toBe(0) // held back by the hour's delay
    // Removing the delay releases the row at once (the wait would otherwise last an hour).
    await delayed.setApplyDelay(0)
    expect(delayed.applyDelayMs).toBe(0)
    await cluster.waitForReplication({ replicas: [delayed], timeoutMs: 20_000 })
    expect(await count(delayed, 'undelayed')).toBe(1)
    await delayed.setApplyDelay(`${applyDelayMs}ms`)
    expect((await delayed.query('SHOW recovery_min_apply_delay')).rows[0]).toEqual({
      recovery_min_apply_delay: '1500ms',
    })
  })

  it('pauses and resumes replay while WAL keeps streaming in', async () => {
    await fast.pauseReplay()
    expect(fast.replayPaused).toBe(true)
    await cluster.primary.query(`INSERT INTO events (marker) VALUES ('paused')`)
    const target = (await cluster.primary.query('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0]
      ?.lsn
    // Received but not replayed: the receive LSN reaches the primary's position, the row stays invisible.
    for (let i = 0; i < 100; i++) {
      const { rows } = await fast.query(`SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS received`, [
        target,
      ])
      if (rows[0]?.received) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const state = await fast.query<{ received: boolean; replayed: boolean; paused: string }>(
      `SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS received, pg_last_wal_replay_lsn() >= $1::pg_lsn AS replayed,
              pg_get_wal_replay_pause_state() AS paused`,
      [target],
    )
    expect(state.rows[0]).toMatchObject({ received: true, replayed: false })
    expect(await count(fast, 'paused')).toBe(0)
    const status = (await cluster.status()).nodes.find((node) => node.name === fast.name)
    expect(status).toMatchObject({ replayPaused: true, reachable: true })
    expect(status?.lagBytes).toBeGreaterThan(0)
    await fast.resumeReplay()
    expect(fast.replayPaused).toBe(false)
    await cluster.waitForReplication({ replicas: [fast], timeoutMs: 10_000 })
    expect(await count(fast, 'paused')).toBe(1)
  })

  it('brings an immediately stopped replica back, streaming and caught up', async () => {
    const oldPid = fast.pid!
    await fast.stop({ mode: 'immediate' })
    expect(fast.running).toBe(false)
    expect(fast.pid).toBeUndefined()
    expect(() => process.kill(oldPid, 0)).toThrow()
    await expect(fast.query('SELECT 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await cluster.primary.query(
      `INSERT INTO events (marker) SELECT 'while-down' FROM generate_series(1, 5000)`,
    )
    await fast.start()
    expect(fast.pid).toBeGreaterThan(0)
    expect(fast.pid).not.toBe(oldPid)
    await cluster.waitForReplication({ replicas: [fast], timeoutMs: 20_000 })
    expect(await count(fast, 'while-down')).toBe(5000)
    const { rows } = await cluster.primary.query(
      `SELECT state FROM pg_stat_replication WHERE application_name = $1`,
      [fast.name],
    )
    expect(rows).toEqual([{ state: 'streaming' }])
  })

  it('reports status with LSNs and lag, never the password', async () => {
    const status = await cluster.status()
    expect(status.backend).toBe('embedded')
    const [primary, ...replicas] = status.nodes
    expect(primary).toMatchObject({ name: 'primary', role: 'primary', reachable: true, inRecovery: false })
    expect(primary?.currentLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
    for (const replica of replicas) {
      expect(replica).toMatchObject({ role: 'replica', reachable: true, inRecovery: true })
      expect(replica.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      expect(typeof replica.lagBytes).toBe('number')
    }
    const password = cluster.primary.connectionConfig.password
    const shown = [
      JSON.stringify(status),
      JSON.stringify(cluster),
      inspect(cluster),
      inspect(cluster.primary),
    ]
    for (const text of shown) expect(text).not.toContain(password)
    expect(inspect(cluster.primary)).toContain('********')
    expect(logs.length).toBeGreaterThan(0)
    for (const entry of logs) expect(entry.message).not.toContain(password)
  })

  it('moves a restarted primary whose port was taken to a free port and re-points the replicas', async () => {
    const primary = cluster.primary
    const oldPort = primary.port
    await primary.stop()
    const squatter = net.createServer()
    await new Promise<void>((resolve) =>
      squatter.listen({ host: '127.0.0.1', port: oldPort, exclusive: true }, resolve),
    )
    try {
      await primary.start()
    } finally {
      squatter.close()
    }
    expect(primary.port).not.toBe(oldPort)
    expect(primary.url).toContain(`:${primary.port}/`)
    await primary.query(`INSERT INTO events (marker) VALUES ('moved')`)
    await cluster.waitForReplication({ replicas: [fast], timeoutMs: 20_000 })
    expect(await count(fast, 'moved')).toBe(1)
    const receiver = await fast.query('SELECT sender_port FROM pg_stat_wal_receiver')
    expect(receiver.rows).toEqual([{ sender_port: primary.port }])
  })
})
