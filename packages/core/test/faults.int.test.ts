import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPgRouteError, type NodeStateEvent, type RoutedClient, type Router } from '../src/index.js'
import { isConnectionError } from '../src/pg-errors.js'
import { portOf, routerFor, stateOf, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'

let cluster: Cluster
const routers: Router[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query(
    `CREATE TABLE events (id bigserial PRIMARY KEY, worker int, at timestamptz DEFAULT now());
     CREATE TABLE accounts (id int PRIMARY KEY, balance int);
     INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 50) g;`,
  )
  await cluster.waitForReplication()
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await cluster?.stop()
})

function track(router: Router): NodeStateEvent[] {
  routers.push(router)
  const events: NodeStateEvent[] = []
  router.on('node-state', (event) => events.push(event))
  return events
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `worker` on `concurrency` loops until `stop()`; collects every failure. */
function load(concurrency: number, worker: (w: number, i: number) => Promise<void>) {
  let stopped = false
  const failures: unknown[] = []
  let completed = 0
  const loops = Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      try {
        await worker(w, i)
        completed++
      } catch (error) {
        failures.push(error)
      }
    }
  })
  return {
    failures,
    get completed() {
      return completed
    },
    async stop() {
      stopped = true
      await Promise.all(loops)
    },
  }
}

describe('a replica killed under load', () => {
  it('fails no read: it is marked down by the first failed statement and back after start()', async (context) => {
    requireControl(context, 'kills a replica and starts it again')
    const victim = cluster.replicas[0]!
    // Probes are rare here, so only failing statements can mark the replica down quickly, and only the
    // back-off re-probe can bring it back.
    const router = routerFor(cluster, {
      healthCheck: { intervalMs: 60_000, timeoutMs: 1000, maxBackoffMs: 300 },
      pool: { max: 8 },
    })
    const events = track(router)
    await router.ready()
    const served: Array<{ port: number; at: number }> = []
    const reads = load(16, async (w) => {
      const result = w % 2 === 0 ? await router.query(WHO) : await router.pool.query(WHO)
      served.push({ port: portOf(result), at: Date.now() })
    })
    try {
      await waitFor(() => served.some((s) => s.port === victim.port), 5000, 'reads on the victim')
      await victim.stop({ mode: 'immediate' })
      // Probes run once a minute here: only a failed statement can mark it down this soon.
      await waitForState(router, victim.name, 'down', 10_000)
      const down = events.find((e) => e.node === victim.name && e.to === 'down')!
      expect(down.from).toBe('up')
      expect(down.reason.length).toBeGreaterThan(0)
      const markedDownAt = Date.now()
      await sleep(500)
      // Once down, no read is sent there (allow for reads that started just before).
      expect(served.filter((s) => s.port === victim.port && s.at > markedDownAt + 50)).toHaveLength(0)
      expect(served.filter((s) => s.at > markedDownAt).length).toBeGreaterThan(50)

      await victim.start()
      await waitForState(router, victim.name, 'up', 15_000)
      const backAt = Date.now()
      await waitFor(
        () => served.some((s) => s.port === victim.port && s.at > backAt),
        5000,
        'reads on the restarted replica',
      )
    } finally {
      await reads.stop()
    }
    expect(reads.failures).toEqual([])
    expect(reads.completed).toBeGreaterThan(500)
    expect(router.status().find((row) => row.name === victim.name)!.errors).toBeGreaterThan(0)
  })
})

describe('a replica-pinned client outside a transaction', () => {
  it('moves to another node when its replica dies', async (context) => {
    requireControl(context, 'kills a replica')
    const victim = cluster.replicas[0]!
    const router = routerFor(cluster)
    track(router)
    await router.ready()
    await waitForState(router, victim.name, 'up', 15_000)
    const clients: RoutedClient[] = []
    try {
      let pinned: RoutedClient | undefined
      while (!pinned) {
        const client = (await router.pool.connect()) as unknown as RoutedClient
        clients.push(client)
        await client.query(WHO)
        if (client.node === victim.name) pinned = client
      }
      await victim.stop({ mode: 'immediate' })
      const port = portOf(await pinned.query(WHO))
      expect(port).not.toBe(victim.port)
      expect(pinned.node).not.toBe(victim.name)
      expect(portOf(await pinned.query(WHO))).toBe(port) // pinned again, to its new node
    } finally {
      for (const client of clients) client.release()
      await victim.start()
    }
    await waitForState(router, victim.name, 'up', 15_000)
  })
})

describe('no leaked connections', () => {
  it('after thousands of mixed statements with a replica killed mid-run, every connection is idle again', async (context) => {
    requireControl(context, 'kills a replica mid-run')
    const victim = cluster.replicas[1]!
    const router = routerFor(cluster, { pool: { max: 6 } })
    track(router)
    await router.ready()
    const unexpected: unknown[] = []
    let pinnedFailures = 0
    /**
     * A read-only transaction pinned to the replica as it dies fails (with the connection error, or
     * PGROUTE_NODE_DOWN when the replica was marked down first): it cannot move mid-transaction.
     */
    const pinned = async (run: () => Promise<unknown>) => {
      try {
        await run()
      } catch (error) {
        const nodeDown = isPgRouteError(error) && error.code === 'PGROUTE_NODE_DOWN'
        if (!isConnectionError(error) && !nodeDown) throw error
        pinnedFailures++
      }
    }
    const kinds = [
      () => router.query(WHO),
      () => router.pool.query('SELECT balance FROM accounts WHERE id = $1', [7]),
      () => router.query('INSERT INTO events (worker) VALUES ($1)', [1]),
      () =>
        router.session(async () => {
          await router.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [3])
          await router.query('SELECT balance FROM accounts WHERE id = $1', [3])
        }),
      () => pinned(() => router.transaction((client) => client.query(WHO), { readOnly: true })),
      () =>
        router.transaction((client) => client.query('UPDATE accounts SET balance = balance WHERE id = 1')),
      () =>
        pinned(async () => {
          const client = await router.pool.connect()
          try {
            await client.query('BEGIN READ ONLY')
            await client.query(WHO)
            await client.query('COMMIT')
          } catch (error) {
            client.release(error as Error)
            throw error
          }
          client.release()
        }),
      () => router.query('SELECT * FROM missing_table').catch((error) => expect(error.code).toBe('42P01')),
    ]
    const work = load(16, async (_, i) => {
      try {
        await kinds[i % kinds.length]!()
      } catch (error) {
        unexpected.push(error)
      }
    })
    try {
      await waitFor(() => work.completed > 1500, 30_000, '1500 statements before the kill')
      await victim.stop({ mode: 'immediate' })
      await waitFor(() => work.completed > 3500, 30_000, '3500 statements in all')
    } finally {
      await work.stop()
    }
    await victim.start()
    expect(unexpected).toEqual([])
    console.info(
      `leak test: ${work.completed} operations, ${pinnedFailures} pinned transactions cut by the kill`,
    )
    expect(work.completed).toBeGreaterThan(3500)
    expect(router.pool.waitingCount).toBe(0)
    expect(router.pool.totalCount).toBe(router.pool.idleCount)
    expect(router.status().every((row) => row.inFlight === 0)).toBe(true)
    const ended = router.end()
    await expect(Promise.race([ended.then(() => 'ended'), sleep(5000).then(() => 'hung')])).resolves.toBe(
      'ended',
    )
    expect(router.pool.totalCount).toBe(0)
    const watcher = routerFor(cluster)
    track(watcher)
    await waitForState(watcher, victim.name, 'up', 15_000)
  })

  it('a process that ends its router exits by itself, even after a replica died under it', async (context) => {
    requireControl(context, 'kills a replica')
    const victim = cluster.replicas[0]!
    await waitFor(() => victim.running, 5000, 'victim running')
    const fixture = fileURLToPath(new URL('./fixtures/exit-after-end.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=pgroute-source', fixture], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: {
        ...process.env,
        PRIMARY_URL: cluster.primary.url,
        REPLICA_URLS: cluster.replicas.map((r) => r.url).join(','),
        RUN_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk
        if (stdout.includes('ready\n')) resolve()
      })
      child.on('exit', () => reject(new Error(`child exited early: ${stderr}`)))
    })
    await sleep(300)
    await victim.stop({ mode: 'immediate' })
    const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000)
    const code = await exited
    clearTimeout(timeout)
    await victim.start()
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!)
    expect(summary.reads).toBeGreaterThan(100)
    expect(summary.failures).toBe(0)
  })
})

describe('fallback when no replica is eligible', () => {
  it("'error' refuses reads with PGROUTE_NO_ELIGIBLE_NODE; 'primary' serves them from the primary", async (context) => {
    requireControl(context, 'stops every replica')
    const strict = routerFor(cluster, { fallback: 'error' })
    const lenient = routerFor(cluster, { fallback: 'primary' })
    track(strict)
    track(lenient)
    await Promise.all([strict.ready(), lenient.ready()])
    await Promise.all(cluster.replicas.map((replica) => replica.stop({ mode: 'fast' })))
    try {
      for (const router of [strict, lenient]) {
        for (const replica of cluster.replicas) await waitForState(router, replica.name, 'down', 5000)
      }
      const refused = await strict.query(WHO).then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(isPgRouteError(refused)).toBe(true)
      expect(refused).toMatchObject({ code: 'PGROUTE_NO_ELIGIBLE_NODE' })
      expect((refused as Error).message).toMatch(/replica-1: down, replica-2: down/)
      // Writes are unaffected.
      expect(
        portOf(
          await strict.query(`INSERT INTO events (worker) VALUES (0) RETURNING inet_server_port() AS port`),
        ),
      ).toBe(cluster.primary.port)
      for (let i = 0; i < 10; i++) expect(portOf(await lenient.query(WHO))).toBe(cluster.primary.port)
      expect(portOf(await lenient.transaction((c) => c.query(WHO), { readOnly: true }))).toBe(
        cluster.primary.port,
      )
    } finally {
      await Promise.all(cluster.replicas.map((replica) => replica.start()))
    }
    for (const replica of cluster.replicas) await waitForState(strict, replica.name, 'up', 15_000)
    expect(cluster.replicas.map((r) => r.port)).toContain(portOf(await strict.query(WHO)))
  })
})

describe('a replica promoted beside a running primary', () => {
  it('becomes the primary (newest timeline); the old primary and the replica following it are fenced', async (context) => {
    requireControl(context, 'promotes a replica')
    const router = routerFor(cluster)
    const events = track(router)
    await router.ready()
    const oldPrimary = router.status()[0]!.name
    const promoted = cluster.replicas[1]!
    const other = cluster.replicas[0]!
    const old = cluster.primary
    await waitForState(router, promoted.name, 'up', 10_000)
    await cluster.promote(promoted, { stopOldPrimary: false, follow: false })
    await waitFor(() => router.status()[0]?.name === promoted.name, 5000, 'the promoted replica to lead')
    await waitForState(router, oldPrimary, 'fenced', 5000)
    // The replica following the old primary holds, until the old primary writes, no more than the fork point: a
    // prefix of timeline 2, behind (no reads) rather than fenced (#24). Once it replays the old primary's writes
    // past the fork, it is fenced.
    await waitFor(
      () => stateOf(router, other.name) === 'lagging',
      5000,
      `${other.name} behind at the fork point`,
    )
    await old.query('CREATE TABLE written_after_the_split (id int)')
    await waitForState(router, other.name, 'fenced', 5000)
    const event = events.find((e) => e.node === oldPrimary && e.to === 'fenced')
    expect(event?.reason).toMatch(/older than the cluster's timeline 2/)
    const ports: number[] = []
    for (let i = 0; i < 20; i++) ports.push(portOf(await router.query(WHO)))
    // No replica follows the new timeline: reads fall back to the new primary.
    expect(new Set(ports)).toEqual(new Set([promoted.port]))
    expect(portOf(await router.primary.query(WHO))).toBe(promoted.port)
    expect(router.status().find((row) => row.name === oldPrimary)?.healthy).toBe(false)
  })
})
