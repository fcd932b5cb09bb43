import { MIN_REPLICA_SHARE, replicaShare, requireControl } from '@pgroute/cluster/testing'
import { and, eq, gte, sql } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { withReplicas } from 'drizzle-orm/pg-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as schema from './fixtures/schema.js'
import { counters } from './fixtures/schema.js'
import { type DrizzleCluster, plainPool, serverPort, startDrizzleCluster } from './helpers/drizzle-cluster.js'
import {
  describeReport,
  type ReadOutcome,
  runStaleReadWorkload,
  type StaleReadReport,
} from './helpers/stale-read-workload.js'

/*
 * One replica applies WAL 2 s late (recovery_min_apply_delay), well inside the router's lag bounds (10 s), so it
 * keeps taking reads: only read-your-writes keeps a session's reads away from it after a write.
 */

const ITERATIONS = 3000
const CONTRAST_ITERATIONS = 1000
const WORKERS = 8

let c: DrizzleCluster
let names: Map<number, string>

type Db = Pick<
  NodePgDatabase<typeof schema>,
  'select' | 'update' | 'execute' | 'transaction' | 'query' | '$count'
>

function increment(db: Pick<Db, 'update'>) {
  return async (key: number) => {
    const [row] = await db
      .update(counters)
      .set({ value: sql`${counters.value} + 1` })
      .where(eq(counters.id, key))
      .returning({ value: counters.value })
    return row!.value
  }
}

/** Reads a counter a different way each iteration: select, relational query, execute, read-only transaction, $count. */
function readCounter(db: Db) {
  const port = () => sql<number>`inet_server_port()`.mapWith(Number).as('port')
  return async (key: number, iteration: number): Promise<ReadOutcome> => {
    switch (iteration % 5) {
      case 0: {
        const [row] = await db
          .select({ value: counters.value, port: serverPort() })
          .from(counters)
          .where(eq(counters.id, key))
        return { value: row?.value, port: row?.port }
      }
      case 1: {
        const row = await db.query.counters.findFirst({
          where: eq(counters.id, key),
          extras: { port: port() },
        })
        return { value: row?.value, port: row?.port }
      }
      case 2: {
        const { rows } = await db.execute<{ value: number; port: number }>(
          sql`select ${counters.value} as value, inet_server_port() as port from ${counters} where ${counters.id} = ${key}`,
        )
        return { value: rows[0]?.value, port: rows[0]?.port }
      }
      case 3:
        return db.transaction(
          async (tx) => {
            const [row] = await tx
              .select({ value: counters.value, port: serverPort() })
              .from(counters)
              .where(eq(counters.id, key))
            return { value: row?.value, port: row?.port }
          },
          { accessMode: 'read only' },
        )
      default: {
        // No port here: $count selects count(*) only. A stale read counts no row at the written value.
        const [row] = await db.select({ value: counters.value }).from(counters).where(eq(counters.id, key))
        const fresh = await db.$count(
          counters,
          and(eq(counters.id, key), gte(counters.value, row?.value ?? 0)),
        )
        return { value: fresh === 1 ? row?.value : undefined }
      }
    }
  }
}

function log(label: string, report: StaleReadReport): void {
  console.info(describeReport(label, report, names))
}

/** 0 stale, and not by reading everything from the primary: replicas served a fair share of the reads. */
function expectFreshFromReplicas(report: StaleReadReport): void {
  expect(report.stale).toBe(0)
  expect(replicaShare(report.byPort, c.cluster)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
}

beforeAll(async () => {
  c = await startDrizzleCluster({ replicaOptions: [{}, { applyDelay: '2s' }] })
  names = new Map([
    [c.primaryPort, 'primary'],
    [c.replicaPorts[0]!, 'replica-1'],
    [c.replicaPorts[1]!, 'replica-2 (2 s delay)'],
  ])
  const keys = [0, 100, 200, 300, 400, 500].flatMap((base) =>
    Array.from({ length: WORKERS }, (_, w) => base + w),
  )
  await c.db.$primary.insert(counters).values(keys.map((id) => ({ id, value: 0 })))
  await c.cluster.waitForReplication({ replicas: c.cluster.replicas })
  const delayed = c.router
    .status()
    .find((node) => node.role === 'replica' && node.name === c.cluster.replicas[1]!.name)
  expect(delayed?.state).toBe('up')
}, 60_000)

afterAll(async () => {
  await c?.stop()
})

describe('a session never reads stale data after its own writes', () => {
  it(`${ITERATIONS} write-then-read sessions through pgrouteDrizzle: zero stale reads`, async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const report = await runStaleReadWorkload({
      iterations: ITERATIONS,
      workers: WORKERS,
      firstKey: 0,
      write: increment(c.db),
      read: readCounter(c.db),
      pair: (run) => c.router.session(run),
    })
    log('pgrouteDrizzle, in router.session()', report)
    expect(report.reads).toBe(ITERATIONS)
    expectFreshFromReplicas(report)
    // The delayed replica never answers a read right after a write: it has not replayed it.
    expect(report.byPort.get(c.replicaPorts[1]!) ?? 0).toBe(0)
  })

  it('the same workload outside a session does read stale data (the check can fail)', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const report = await runStaleReadWorkload({
      iterations: CONTRAST_ITERATIONS,
      workers: WORKERS,
      firstKey: 100,
      write: increment(c.db),
      read: readCounter(c.db),
    })
    log('pgrouteDrizzle, no session', report)
    expect(report.stale).toBeGreaterThan(0)
    expect(report.staleByPort.get(c.replicaPorts[1]!) ?? 0).toBeGreaterThan(0)
  })

  it("the same workload through drizzle's withReplicas reads stale data", async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const pools = [c.cluster.primary, ...c.cluster.replicas].map((node) => plainPool(node.url))
    try {
      const [primary, first, ...rest] = pools.map((client) => drizzle({ client, schema }))
      const replicated = withReplicas(primary!, [first!, ...rest])
      const report = await runStaleReadWorkload({
        iterations: CONTRAST_ITERATIONS,
        workers: WORKERS,
        firstKey: 200,
        write: increment(replicated),
        read: readCounter(replicated),
      })
      log("drizzle's withReplicas(primary, [replica-1, replica-2])", report)
      expect(report.stale).toBeGreaterThan(0)
      // withReplicas picks a replica at random for selects and relational queries: the delayed one serves about
      // half of them, and is stale every time.
      expect(report.staleShare).toBeGreaterThan(0.2)
    } finally {
      await Promise.all(pools.map((pool) => pool.end()))
    }
  })

  it('writes through db.$primary count for the session', async () => {
    const report = await runStaleReadWorkload({
      iterations: CONTRAST_ITERATIONS,
      workers: WORKERS,
      firstKey: 300,
      write: increment(c.db.$primary),
      read: readCounter(c.db),
      pair: (run) => c.router.session(run),
    })
    log('writes via db.$primary, reads via db, in router.session()', report)
    expectFreshFromReplicas(report)
  })

  it('a write straight on router.primary is seen by the session too', async (context) => {
    requireControl(context, 'a replica that replays WAL 2 s late')
    const bare = drizzle({ client: c.router.primary, schema })
    const report = await runStaleReadWorkload({
      iterations: CONTRAST_ITERATIONS,
      workers: WORKERS,
      firstKey: 400,
      write: increment(bare),
      read: readCounter(c.db),
      pair: (run) => c.router.session(run),
    })
    log('writes via drizzle(router.primary), reads via db, in router.session()', report)
    expectFreshFromReplicas(report)
  })

  it('a token carries the guarantee to the next request', async () => {
    const write = increment(c.db)
    const read = readCounter(c.db)
    const tokens = new Map<number, string>()
    const withToken = await runStaleReadWorkload({
      iterations: CONTRAST_ITERATIONS,
      workers: WORKERS,
      firstKey: 500,
      // Two requests: the first writes and hands out a token, the second reads with it.
      write: async (key) => {
        const { value, token } = await c.router.session(async () => ({
          value: await write(key),
          token: await c.router.token(),
        }))
        expect(token).toEqual(expect.any(String))
        tokens.set(key, token!)
        return value
      },
      read: (key, i) => c.router.session(() => read(key, i), { token: tokens.get(key) }),
    })
    log('write in one session, read in the next with its token', withToken)
    expectFreshFromReplicas(withToken)
  })
})
