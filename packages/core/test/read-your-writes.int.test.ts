import type { Cluster } from '@pgroute/cluster'
import { MIN_REPLICA_SHARE, requireControl, startTestCluster } from '@pgroute/cluster/testing'
import Cursor from 'pg-cursor'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, isToken, type Router } from '../src/index.js'
import { routerFor } from './helpers/cluster-helpers.js'

// replica-1 replays at once; replica-2 applies WAL 2 s late. Lag bounds are off, so both replicas take reads:
// only read-your-writes stands between a session and the stale replica. Every test that claims read-your-writes
// also checks that replicas served a fair share of the reads: "0 stale" alone would hold if every read went to the
// primary.
let cluster: Cluster
let router: Router
let delayedPort: number
const WORKERS = 8

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
  delayedPort = cluster.replicas[1]!.port
  await cluster.primary.query(
    `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL);
     INSERT INTO counters SELECT g, 0 FROM generate_series(1, ${WORKERS * 4}) g`,
  )
  await cluster.waitForReplication({ replicas: cluster.replicas, timeoutMs: 10_000 })
  router = routerFor(cluster, {
    lag: { maxBytes: Number.POSITIVE_INFINITY, maxSeconds: Number.POSITIVE_INFINITY },
  })
  await router.ready()
})

afterAll(async () => {
  await router?.end()
  await cluster?.stop()
})

const WRITE = 'UPDATE counters SET v = v + 1 WHERE id = $1 RETURNING v'
const READ = 'SELECT v, inet_server_port() AS port FROM counters WHERE id = $1'

interface Tally {
  reads: number
  stale: number
  byReplica: number
  byDelayed: number
}

function tally(): Tally {
  return { reads: 0, stale: 0, byReplica: 0, byDelayed: 0 }
}

interface Row {
  v: string
  port: number
}

/** Replicas served at least {@link MIN_REPLICA_SHARE} of the reads (the share is logged). */
function expectReplicaShare(result: Tally, label: string): void {
  const share = result.byReplica / result.reads
  console.info(
    `${label}: ${result.reads} reads, ${result.stale} stale, ${(100 * share).toFixed(1)}% by replicas`,
  )
  expect(share).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
}

function count(result: Tally, written: bigint, row: Row | undefined): void {
  if (!row) throw new Error('the counter row is missing')
  result.reads++
  if (BigInt(row.v) < written) result.stale++
  if (row.port !== cluster.primary.port) result.byReplica++
  if (row.port === delayedPort) result.byDelayed++
}

/** Runs `iterations` of `step` on each of {@link WORKERS} concurrent workers, each on its own counter row. */
async function workers(iterations: number, step: (id: number, i: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      for (let i = 0; i < iterations; i++) await step(w + 1, i)
    }),
  )
}

async function write(id: number): Promise<bigint> {
  const { rows } = await router.query<{ v: string }>(WRITE, [id])
  return BigInt(rows[0]!.v)
}

type Reader = (id: number) => Promise<Row | undefined>

/** The same read through every entry point: reads in a session must be consistent through all of them. */
const readers: Reader[] = [
  async (id) => (await router.query<Row>(READ, [id])).rows[0],
  async (id) => (await router.pool.query<Row>(READ, [id])).rows[0],
  async (id) => {
    const client = await router.pool.connect()
    try {
      return (await client.query<Row>(READ, [id])).rows[0]
    } finally {
      client.release()
    }
  },
  (id) =>
    router.transaction(async (client) => (await client.query<Row>(READ, [id])).rows[0], { readOnly: true }),
]

describe('read-your-writes', () => {
  it('control: outside a session, reads right after a write are stale on the delayed replica', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const result = tally()
    await workers(40, async (id) => {
      const written = await write(id)
      count(result, written, (await router.query<Row>(READ, [id])).rows[0])
    })
    // Proves this setup can catch a stale read: without a session the delayed replica serves old rows.
    expect(result.byDelayed).toBeGreaterThan(0)
    expect(result.stale).toBeGreaterThan(0)
  })

  it('inside router.session: thousands of write-then-read cycles, zero stale reads', async () => {
    const result = tally()
    await workers(300, (id, i) =>
      router.session(async () => {
        const written = await write(id)
        count(result, written, await readers[i % readers.length]!(id))
      }),
    )
    expect(result.reads).toBe(WORKERS * 300)
    expect(result.stale).toBe(0)
    // Not by sending everything to the primary: the undelayed replica serves reads it has replayed.
    expectReplicaShare(result, 'session reads')
  })

  it('a token carried to a new session (another request) gives zero stale reads', async () => {
    const result = tally()
    await workers(150, async (id, i) => {
      const { written, token } = await router.session(async () => {
        const value = await write(id)
        return { written: value, token: await router.token() }
      })
      expect(isToken(token)).toBe(true)
      await router.session(async () => count(result, written, await readers[i % readers.length]!(id)), {
        token: token!,
      })
    })
    expect(result.reads).toBe(WORKERS * 150)
    expect(result.stale).toBe(0)
    expectReplicaShare(result, 'reads with a token')
  })

  it('concurrent writes and reads inside one session are all seen', async () => {
    const result = tally()
    for (let round = 0; round < 100; round++) {
      await router.session(async () => {
        const ids = Array.from({ length: WORKERS }, (_, w) => w + 1)
        const written = await Promise.all(ids.map((id) => write(id)))
        const rows = await Promise.all(ids.map((id) => router.query<Row>(READ, [id])))
        rows.forEach((r, i) => {
          count(result, written[i]!, r.rows[0])
        })
      })
    }
    expect(result.reads).toBe(WORKERS * 100)
    expect(result.stale).toBe(0)
    expectReplicaShare(result, 'concurrent reads in one session')
  })

  it('nested sessions join the outer one; token() is undefined outside a session and before any write', async () => {
    expect(await router.token()).toBeUndefined()
    await router.session(async () => {
      expect(await router.token()).toBeUndefined()
      const written = await router.session(() => write(1))
      const token = await router.token()
      expect(isToken(token)).toBe(true)
      const row = (await router.query<Row>(READ, [1])).rows[0]
      expect(BigInt(row!.v)).toBeGreaterThanOrEqual(written)
    })
  })

  it('writes through router.primary and its clients count for the session; its reads stay on the primary', async () => {
    const result = tally()
    await workers(60, (id, i) =>
      router.session(async () => {
        let written: bigint
        if (i % 2 === 0) {
          written = BigInt((await router.primary.query<{ v: string }>(WRITE, [id])).rows[0]!.v)
        } else {
          const client = await router.primary.connect()
          try {
            written = BigInt((await client.query<{ v: string }>(WRITE, [id])).rows[0]!.v)
          } finally {
            client.release()
          }
        }
        count(result, written, await readers[i % readers.length]!(id))
      }),
    )
    expect(result.reads).toBe(WORKERS * 60)
    expect(result.stale).toBe(0)
    expectReplicaShare(result, 'after writes through router.primary')
    const { rows } = await router.primary.query<Row>(READ, [1])
    expect(rows[0]!.port).toBe(cluster.primary.port)
    // A cursor runs as pg.Pool runs one (on a connection of its own, given back once it is closed), on the primary;
    // a client of router.primary runs them on the primary too.
    const pooled = new Cursor<Row>(READ, [1])
    const done = router.primary.query(pooled as never) as unknown as Promise<unknown>
    expect((await pooled.read(1))[0]!.port).toBe(cluster.primary.port)
    await pooled.close()
    await done
    const client = await router.primary.connect()
    try {
      const cursor = client.query(new Cursor<Row>(READ, [1]))
      expect((await cursor.read(1))[0]!.port).toBe(cluster.primary.port)
      await cursor.close()
    } finally {
      client.release()
    }
  })

  it('a read sent to a replica behind its replay check, the replica not caught up: its answer or failure there is dropped, the primary answers', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    // Only the delayed replica: each read right after its write goes there behind a replay check (the position
    // after the write still on its way), which finds the write not replayed. The read fails there (the table is
    // not on the replica yet); the caller gets the primary's answer, not that failure.
    const delayed = createRouter({
      primary: cluster.primary.url,
      replicas: [{ name: 'delayed', connectionString: cluster.replicas[1]!.url }],
      lag: { maxBytes: Number.POSITIVE_INFINITY, maxSeconds: Number.POSITIVE_INFINITY },
    })
    try {
      await delayed.ready()
      for (let i = 0; i < 5; i++) {
        const table = `ryw_fresh_${process.pid}_${i}`
        const row = await delayed.session(async () => {
          await delayed.query(`CREATE TABLE ${table} (v int); INSERT INTO ${table} VALUES (${i})`)
          return (
            await delayed.query<{ v: number; port: number }>(
              `SELECT v, inet_server_port() AS port FROM ${table}`,
            )
          ).rows[0]
        })
        expect(row).toEqual({ v: i, port: cluster.primary.port })
      }
    } finally {
      await delayed.end()
    }
  })

  it('a malformed token is refused with PGROUTE_INVALID_TOKEN', async () => {
    await expect(router.session(async () => 1, { token: 'not-a-token' })).rejects.toMatchObject({
      code: 'PGROUTE_INVALID_TOKEN',
    })
  })
})

describe('session(fn, { readOnPrimary: true })', () => {
  const PORT = 'SELECT inet_server_port() AS port'
  const portOf = async () => ((await router.query(PORT)).rows[0] as { port: number }).port

  it('sends every read of the scope to the primary, though replicas replayed everything', async () => {
    await cluster.waitForReplication({ replicas: [cluster.replicas[0]!], timeoutMs: 10_000 })
    const ports = await router.session(() => Promise.all(Array.from({ length: 10 }, portOf)), {
      readOnPrimary: true,
    })
    expect(new Set(ports)).toEqual(new Set([cluster.primary.port]))
    // Outside such a scope the same reads go to replicas: the option is what keeps them on the primary.
    const plain = await router.session(() => Promise.all(Array.from({ length: 10 }, portOf)))
    expect(plain.some((port) => port !== cluster.primary.port)).toBe(true)
  })

  it('inside an open scope, makes it read on the primary from then on', async () => {
    await router.session(async () => {
      await router.session(async () => {}, { readOnPrimary: true })
      expect(await portOf()).toBe(cluster.primary.port)
    })
  })

  it('rejects a value that is not a boolean with a ConfigError naming the option', async () => {
    await expect(
      router.session(async () => {}, { readOnPrimary: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ name: 'ConfigError', option: 'readOnPrimary' })
  })
})

describe('router.openSession()', () => {
  it('is one session across stages entered with run(): thousands of write-then-read cycles, zero stale reads', async () => {
    const result = tally()
    await workers(150, async (id, i) => {
      // Each stage is entered from outside any session, as a framework calls a middleware's next() and a handler.
      const session = router.openSession()
      const written = await session.run(write, id)
      count(result, written, await session.run(readers[i % readers.length]!, id))
    })
    expect(result.reads).toBe(WORKERS * 150)
    expect(result.stale).toBe(0)
    expectReplicaShare(result, 'reads in opened sessions')
  })

  it('runs synchronously, and is empty (no token) until a write of it completes', async () => {
    const session = router.openSession()
    expect(session.run((a: number, b: number) => a + b, 1, 2)).toBe(3)
    expect(session.empty).toBe(true)
    expect(await session.token()).toBeUndefined()
    expect(await session.run(() => router.token())).toBeUndefined()
    await session.run(() => router.query(READ, [1]))
    expect(session.empty).toBe(true)
    await session.run(write, 1)
    expect(session.empty).toBe(false)
    const token = await session.token()
    expect(isToken(token)).toBe(true)
    expect(await session.run(() => router.token())).toBe(token)
    // Outside its stages, the async context has no session.
    expect(await router.token()).toBeUndefined()
  })

  it('continues from a token: not empty, its reads see the write the token stands for', async () => {
    const result = tally()
    await workers(60, async (id, i) => {
      const { written, token } = await router.session(async () => ({
        written: await write(id),
        token: (await router.token())!,
      }))
      const session = router.openSession({ token })
      expect(session.empty).toBe(false)
      count(result, written, await session.run(readers[i % readers.length]!, id))
      expect(await session.token()).toBe(token)
    })
    expect(result.stale).toBe(0)
    expectReplicaShare(result, 'reads in opened sessions with a token')
  })

  it('inside a scope, joins it (the scope continues from its token and sees its writes)', async () => {
    const token = await router.session(async () => {
      await write(2)
      return (await router.token())!
    })
    await router.session(async () => {
      expect(await router.token()).toBeUndefined()
      expect(router.openSession({ token }).empty).toBe(false)
      expect(await router.token()).toBe(token)
    })
    await router.session(async () => {
      await router.openSession().run(write, 3)
      expect(isToken(await router.token())).toBe(true)
    })
  })

  it('throws PGROUTE_INVALID_TOKEN for a malformed token, at once', () => {
    expect(() => router.openSession({ token: 'not-a-token' })).toThrow(
      expect.objectContaining({ code: 'PGROUTE_INVALID_TOKEN' }),
    )
  })
})
