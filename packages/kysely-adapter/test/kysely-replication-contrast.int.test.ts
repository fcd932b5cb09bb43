import { plainPool } from '@pgroute/cluster/testing'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { KyselyReplicationDialect } from 'kysely-replication'
import { RoundRobinReplicaStrategy } from 'kysely-replication/strategy/round-robin'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { primary } from '../src/index.js'
import { type Database, type Harness, serverPort, startHarness } from './helpers/harness.js'

/**
 * The same queries through kysely-replication 0.3.0 (the Kysely team's replication dialect) and through
 * PgRouteDialect, on the same cluster: each case shows where kysely-replication routes badly and pgroute does not.
 */
let h: Harness
let pgroute: Kysely<Database>
let replication: Kysely<Database>
const pools: pg.Pool[] = []

beforeAll(async () => {
  h = await startHarness({ replicaOptions: [{}] })
  pgroute = h.db
  const pool = (url: string) => {
    const created = plainPool(url, { max: 4 })
    pools.push(created)
    return created
  }
  replication = new Kysely<Database>({
    dialect: new KyselyReplicationDialect({
      primaryDialect: new PostgresDialect({ pool: pool(h.cluster.primary.url) }),
      replicaDialects: [new PostgresDialect({ pool: pool(h.cluster.replicas[0]!.url) })],
      replicaStrategy: new RoundRobinReplicaStrategy({}),
    }),
  })
})

afterAll(async () => {
  // Destroying the replication instance ends its pools.
  await replication?.destroy()
  await h?.stop()
})

const replicaPort = () => h.replicaPorts[0]

async function rawReadPort(db: Kysely<Database>): Promise<number | undefined> {
  const { rows } = await sql<{ port: number }>`select inet_server_port() as port`.execute(db)
  return rows[0]?.port
}

async function readOnlyTransactionPort(db: Kysely<Database>): Promise<number> {
  return db
    .transaction()
    .setAccessMode('read only')
    .execute(async (trx) => (await trx.selectNoFrom(serverPort().as('port')).executeTakeFirstOrThrow()).port)
}

async function savepoints(db: Kysely<Database>, name: string): Promise<string[]> {
  const trx = await db.startTransaction().execute()
  try {
    await trx
      .insertInto('item')
      .values({ name: `${name}-kept`, qty: 1 })
      .execute()
    const sp = await trx.savepoint('sp').execute()
    await sp
      .insertInto('item')
      .values({ name: `${name}-undone`, qty: 1 })
      .execute()
    const back = await sp.rollbackToSavepoint('sp').execute()
    await back.commit().execute()
  } catch (error) {
    await trx.rollback().execute()
    throw error
  }
  // Read back on the primary: the rows were just written.
  const rows = await sql<{ name: string }>`select name from item where name like ${`${name}-%`}`.execute(
    primary(h.db),
  )
  return rows.rows.map((row) => row.name)
}

function lockingRead(db: Kysely<Database>) {
  return db
    .selectFrom('item')
    .select(serverPort().as('port'))
    .where('id', '=', 1)
    .forUpdate()
    .executeTakeFirstOrThrow()
}

describe('raw reads (sql`select …`)', () => {
  it('kysely-replication sends every raw query to the primary', async () => {
    expect(await rawReadPort(replication)).toBe(h.primaryPort)
  })

  it('pgroute classifies the text and reads from the replica', async () => {
    expect(await rawReadPort(pgroute)).toBe(replicaPort())
  })
})

describe("read-only transactions (setAccessMode('read only'))", () => {
  it('kysely-replication runs them on the primary', async () => {
    expect(await readOnlyTransactionPort(replication)).toBe(h.primaryPort)
  })

  it('pgroute runs them on a replica', async () => {
    expect(await readOnlyTransactionPort(pgroute)).toBe(replicaPort())
  })
})

describe('savepoints', () => {
  it('kysely-replication has no savepoint support', async () => {
    const error = await savepoints(replication, 'kr').catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/savepoint.*not supported/i)
  })

  it('pgroute supports savepoint and rollbackToSavepoint', async () => {
    const names = await savepoints(pgroute, 'pgroute')
    expect(names).toEqual(['pgroute-kept'])
  })
})

describe('SELECT … FOR UPDATE', () => {
  it('kysely-replication sends it to the replica, which refuses it', async () => {
    const error = await lockingRead(replication).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(pg.DatabaseError)
    expect((error as pg.DatabaseError).code).toBe('25006')
  })

  it('pgroute sends it to the primary', async () => {
    expect((await lockingRead(pgroute)).port).toBe(h.primaryPort)
  })
})
