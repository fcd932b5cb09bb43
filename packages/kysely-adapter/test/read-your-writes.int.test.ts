import { MIN_REPLICA_SHARE, replicaShare, requireControl, waitFor } from '@pgroute/cluster/testing'
import { isToken } from '@pgroute/core'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, type Harness, serverPort, startHarness } from './helpers/harness.js'

const WORKERS = 8
const ITERATIONS = 300
/** One counter row per worker (ids 1..WORKERS), plus one for the token test and one for the control. */
const TOKEN_ROW = 100
const CONTROL_ROW = 101

let h: Harness
let db: Kysely<Database>
let delayedPort: number

beforeAll(async () => {
  // replica-2 applies WAL two seconds after the primary wrote it: a read there right after a write is stale.
  h = await startHarness({ replicaOptions: [{}, { applyDelay: '2s' }] })
  db = h.db
  delayedPort = h.cluster.replicas[1]!.port
  const ids = [...Array.from({ length: WORKERS }, (_, i) => i + 1), TOKEN_ROW, CONTROL_ROW]
  await h.cluster.primary.query(`INSERT INTO counter (id, v) SELECT unnest($1::int[]), 0`, [ids])
  // Start once even the delayed replica has the rows, so a stale read shows an old value, not a missing row.
  await waitFor(
    () =>
      h.cluster.replicas[1]!.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM counter WHERE id = ANY($1)',
        [ids],
      ).then(
        ({ rows }) => rows[0]?.n === ids.length,
        // 42P01: not even the table has been replayed yet.
        (error: { code?: string }) => {
          if (error.code === '42P01') return false
          throw error
        },
      ),
    20_000,
    'the delayed replica to replay the seed rows',
  )
})

afterAll(async () => {
  await h?.stop()
})

/** Reads counter `id` four ways in turn: builder select, raw SQL, a stream, a read-only transaction. */
async function readCounter(id: number, way: number): Promise<{ v: number; port: number }> {
  const query = db
    .selectFrom('counter')
    .select(['v', serverPort().as('port')])
    .where('id', '=', id)
  switch (way % 4) {
    case 0:
      return query.executeTakeFirstOrThrow()
    case 1: {
      const { rows } = await sql<{
        v: number
        port: number
      }>`select v, inet_server_port() as port from counter where id = ${id}`.execute(db)
      return rows[0]!
    }
    case 2: {
      for await (const row of query.stream(1)) return row
      throw new Error(`counter ${id} not found`)
    }
    default:
      return db
        .transaction()
        .setAccessMode('read only')
        .execute((trx) =>
          trx
            .selectFrom('counter')
            .select(['v', serverPort().as('port')])
            .where('id', '=', id)
            .executeTakeFirstOrThrow(),
        )
  }
}

describe('read-your-writes with a replica applying WAL 2 s late', () => {
  it('control: outside a session, reads right after a write are stale on the delayed replica', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    let stale = 0
    let onDelayed = 0
    for (let i = 1; i <= 100; i++) {
      await db.updateTable('counter').set({ v: i }).where('id', '=', CONTROL_ROW).execute()
      const row = await readCounter(CONTROL_ROW, 0)
      if (Number(row.v) !== i) stale++
      if (row.port === delayedPort) onDelayed++
    }
    expect(onDelayed).toBeGreaterThan(0)
    expect(stale).toBeGreaterThan(0)
  })

  it(`inside router.session(): zero stale reads over ${WORKERS * ITERATIONS} write-then-read iterations`, async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const ports = new Map<number, number>()
    const stale: string[] = []
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        const id = worker + 1
        for (let i = 1; i <= ITERATIONS; i++) {
          await h.router.session(async () => {
            await db.updateTable('counter').set({ v: i }).where('id', '=', id).execute()
            const row = await readCounter(id, i)
            ports.set(row.port, (ports.get(row.port) ?? 0) + 1)
            if (Number(row.v) !== i)
              stale.push(`counter ${id}: wrote ${i}, read ${row.v} on port ${row.port}`)
          })
        }
      }),
    )
    expect(stale).toEqual([])
    const reads = [...ports.values()].reduce((a, b) => a + b, 0)
    expect(reads).toBe(WORKERS * ITERATIONS)
    // The delayed replica can never have replayed a write made a moment before.
    expect(ports.get(delayedPort) ?? 0).toBe(0)
    console.info('read-your-writes: reads by server port', Object.fromEntries(ports))
    // Not by sending everything to the primary: the undelayed replica serves the reads it has replayed.
    expect(replicaShare(ports, h.cluster)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
  })

  it('a token carries the session to a later request: zero stale reads', async () => {
    let stale = 0
    const ports: number[] = []
    for (let i = 1; i <= 200; i++) {
      const token = await h.router.session(async () => {
        await db.updateTable('counter').set({ v: i }).where('id', '=', TOKEN_ROW).execute()
        return h.router.token()
      })
      expect(isToken(token)).toBe(true)
      const row = await h.router.session(() => readCounter(TOKEN_ROW, i), { token })
      ports.push(row.port)
      if (Number(row.v) !== i) stale++
    }
    expect(stale).toBe(0)
    expect(replicaShare(ports, h.cluster)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
  })
})
