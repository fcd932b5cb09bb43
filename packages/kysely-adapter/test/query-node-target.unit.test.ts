import {
  type Compilable,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import { queryNodeTarget } from '../src/index.js'

interface Database {
  person: { id: number; name: string; data: unknown }
  pet: { id: number; owner_id: number; name: string }
  audit: { id: number; note: string }
}

const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
})

function target(query: Compilable) {
  return queryNodeTarget(query.compile().query)
}

describe('queryNodeTarget: reads go to a replica', () => {
  const reads: Array<[string, Compilable]> = [
    ['plain select', db.selectFrom('person').selectAll()],
    [
      'where, order, limit, offset',
      db.selectFrom('person').select('id').where('id', '>', 1).orderBy('id').limit(5).offset(2),
    ],
    [
      'join',
      db
        .selectFrom('person')
        .innerJoin('pet', 'pet.owner_id', 'person.id')
        .select(['person.name', 'pet.name as pet']),
    ],
    [
      'aggregate and group by',
      db
        .selectFrom('pet')
        .select((eb) => ['owner_id', eb.fn.countAll().as('n')])
        .groupBy('owner_id')
        .having((eb) => eb.fn.countAll(), '>', 1),
    ],
    ['distinct on', db.selectFrom('pet').distinctOn('owner_id').selectAll()],
    ['distinct', db.selectFrom('pet').select('owner_id').distinct()],
    [
      'window function',
      db.selectFrom('pet').select((eb) =>
        eb.fn
          .agg<number>('row_number')
          .over((ob) => ob.partitionBy('owner_id'))
          .as('rn'),
      ),
    ],
    ['union', db.selectFrom('person').select('id').union(db.selectFrom('pet').select('id'))],
    [
      'subquery in where',
      db.selectFrom('person').selectAll().where('id', 'in', db.selectFrom('pet').select('owner_id')),
    ],
    ['subquery in from', db.selectFrom(db.selectFrom('pet').selectAll().as('p')).selectAll()],
    [
      'read-only CTE',
      db
        .with('owners', (qb) => qb.selectFrom('pet').select('owner_id'))
        .selectFrom('owners')
        .selectAll(),
    ],
    [
      'recursive CTE',
      db
        .withRecursive('n(v)', (qb) =>
          qb
            .selectNoFrom(sql<number>`1`.as('v'))
            .unionAll(qb.selectFrom('n').select(sql<number>`v + 1`.as('v')).where('v', '<', 10)),
        )
        .selectFrom('n')
        .selectAll(),
    ],
    ['select without from', db.selectNoFrom(sql<number>`inet_server_port()`.as('port'))],
    ['raw front modifier', db.selectFrom('person').selectAll().modifyFront(sql`/* front */`)],
    [
      'user value shaped like a node',
      db.selectFrom('person').selectAll().where('data', '=', { kind: 'InsertQueryNode' }),
    ],
    [
      'user values list shaped like nodes',
      db
        .selectFrom('person')
        .selectAll()
        .where('data', 'in', [{ kind: 'DeleteQueryNode' }]),
    ],
    [
      'json value in select',
      db.selectNoFrom((eb) => eb.val({ kind: 'UpdateQueryNode', modifier: 'ForUpdate' }).as('v')),
    ],
  ]
  it.each(reads)('%s', (_, query) => {
    expect(target(query)).toBe('replica')
  })
})

describe('queryNodeTarget: locking reads go to the primary', () => {
  const locks: Array<[string, Compilable]> = [
    ['for update', db.selectFrom('person').selectAll().forUpdate()],
    ['for no key update', db.selectFrom('person').selectAll().forNoKeyUpdate()],
    ['for share', db.selectFrom('person').selectAll().forShare()],
    ['for key share', db.selectFrom('person').selectAll().forKeyShare()],
    ['for update skip locked', db.selectFrom('person').selectAll().forUpdate().skipLocked()],
    ['for update nowait', db.selectFrom('person').selectAll().forUpdate().noWait()],
    [
      'for update of a table',
      db
        .selectFrom('person')
        .innerJoin('pet', 'pet.owner_id', 'person.id')
        .selectAll('person')
        .forUpdate(['person']),
    ],
    ['raw end modifier', db.selectFrom('person').selectAll().modifyEnd(sql`for update of person`)],
    [
      'lock in a from-subquery',
      db.selectFrom(db.selectFrom('pet').selectAll().forUpdate().as('p')).selectAll(),
    ],
    [
      'lock in a where-subquery',
      db
        .selectFrom('person')
        .selectAll()
        .where('id', 'in', db.selectFrom('pet').select('owner_id').forShare()),
    ],
    [
      'lock in a CTE',
      db
        .with('locked', (qb) => qb.selectFrom('pet').selectAll().forUpdate())
        .selectFrom('locked')
        .selectAll(),
    ],
    [
      'lock in a union branch',
      db.selectFrom('person').select('id').union(db.selectFrom('pet').select('id').forUpdate()),
    ],
  ]
  it.each(locks)('%s', (_, query) => {
    expect(target(query)).toBe('primary')
  })
})

describe('queryNodeTarget: writing CTEs make a select a write', () => {
  const writes: Array<[string, Compilable]> = [
    [
      'insert CTE',
      db
        .with('ins', (qb) => qb.insertInto('audit').values({ id: 1, note: 'x' }).returning('id'))
        .selectFrom('ins')
        .selectAll(),
    ],
    [
      'update CTE',
      db
        .with('upd', (qb) => qb.updateTable('person').set({ name: 'x' }).returning('id'))
        .selectFrom('upd')
        .selectAll(),
    ],
    [
      'delete CTE',
      db
        .with('del', (qb) => qb.deleteFrom('pet').returning('id'))
        .selectFrom('del')
        .selectAll(),
    ],
    [
      'merge CTE',
      db
        // Kysely's types leave MERGE out of CTEs; PostgreSQL 17+ accepts it (MERGE … RETURNING).
        .with(
          'm',
          (qb) =>
            qb
              .mergeInto('person')
              .using('pet', 'pet.owner_id', 'person.id')
              .whenMatched()
              .thenUpdateSet({ name: 'x' })
              .returning('person.id') as never,
        )
        .selectFrom('m')
        .selectAll(),
    ],
    [
      'writing CTE nested in a read-only CTE',
      db
        .with('outer', (qb) =>
          qb
            .with('inner', (q) => q.deleteFrom('pet').returning('id'))
            .selectFrom('inner')
            .selectAll(),
        )
        .selectFrom('outer')
        .selectAll(),
    ],
    [
      'writing CTE inside a subquery',
      db
        .selectFrom(
          db
            .with('gone', (q) => q.deleteFrom('pet').returning('id'))
            .selectFrom('gone')
            .selectAll()
            .as('g'),
        )
        .selectAll(),
    ],
    [
      'second of several CTEs',
      db
        .with('a', (qb) => qb.selectFrom('person').select('id'))
        .with('b', (qb) => qb.insertInto('audit').values({ id: 2, note: 'y' }).returning('id'))
        .selectFrom('a')
        .selectAll(),
    ],
  ]
  it.each(writes)('%s', (_, query) => {
    expect(target(query)).toBe('primary')
  })
})

describe('queryNodeTarget: data changes and DDL go to the primary', () => {
  const primaries: Array<[string, Compilable]> = [
    ['insert', db.insertInto('person').values({ id: 1, name: 'a', data: null })],
    ['insert returning', db.insertInto('person').values({ id: 1, name: 'a', data: null }).returning('id')],
    [
      'insert … select',
      db
        .insertInto('audit')
        .columns(['id', 'note'])
        .expression(db.selectFrom('person').select(['id', 'name'])),
    ],
    [
      'insert on conflict',
      db
        .insertInto('person')
        .values({ id: 1, name: 'a', data: null })
        .onConflict((oc) => oc.column('id').doUpdateSet({ name: 'b' })),
    ],
    ['update', db.updateTable('person').set({ name: 'b' }).where('id', '=', 1)],
    [
      'update from',
      db.updateTable('person').from('pet').set({ name: 'b' }).whereRef('pet.owner_id', '=', 'person.id'),
    ],
    ['delete', db.deleteFrom('pet').where('id', '=', 1)],
    ['delete using', db.deleteFrom('pet').using('person').whereRef('person.id', '=', 'pet.owner_id')],
    ['merge', db.mergeInto('person').using('pet', 'pet.owner_id', 'person.id').whenMatched().thenDelete()],
    [
      'insert with a read-only CTE',
      db
        .with('p', (qb) => qb.selectFrom('person').select(['id', 'name']))
        .insertInto('audit')
        .columns(['id', 'note'])
        .expression((eb) => eb.selectFrom('p').selectAll()),
    ],
    ['insert with a raw end modifier', db.insertInto('audit').values({ id: 1, note: 'x' }).modifyEnd(sql``)],
    ['create table', db.schema.createTable('t').addColumn('id', 'integer', (c) => c.primaryKey())],
    ['create table as', db.schema.createTable('t2').as(db.selectFrom('person').selectAll())],
    ['alter table', db.schema.alterTable('person').addColumn('age', 'integer')],
    ['drop table', db.schema.dropTable('t').ifExists()],
    ['create index', db.schema.createIndex('person_name').on('person').column('name')],
    ['drop index', db.schema.dropIndex('person_name')],
    ['create view', db.schema.createView('v').as(db.selectFrom('person').selectAll())],
    [
      'create materialized view',
      db.schema.createView('mv').materialized().as(db.selectFrom('person').selectAll()),
    ],
    ['refresh materialized view', db.schema.refreshMaterializedView('mv')],
    ['drop view', db.schema.dropView('v')],
    ['create schema', db.schema.createSchema('s')],
    ['drop schema', db.schema.dropSchema('s')],
    ['create type', db.schema.createType('mood').asEnum(['sad', 'ok'])],
    ['drop type', db.schema.dropType('mood')],
  ]
  it.each(primaries)('%s', (_, query) => {
    expect(target(query)).toBe('primary')
  })
})

describe('queryNodeTarget: raw SQL is left to the text classifier', () => {
  it('returns undefined for sql`…` statements', () => {
    expect(queryNodeTarget(sql`select 1`.compile(db).query)).toBeUndefined()
    expect(queryNodeTarget(sql`select nextval('s')`.compile(db).query)).toBeUndefined()
    expect(queryNodeTarget(sql`begin`.compile(db).query)).toBeUndefined()
  })

  it('reads the tree only: a raw fragment inside a builder select does not change it', () => {
    // The text is classified again when it runs, which sends a SELECT calling nextval() to the primary.
    expect(target(db.selectNoFrom(sql<number>`nextval('s')`.as('n')))).toBe('replica')
  })
})

describe('queryNodeTarget: explain', () => {
  it('keeps the kind of the explained statement', async () => {
    const compiled: Array<{ kind: string; target: string | undefined }> = []
    const spy = new Kysely<Database>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => ({
          init: async () => {},
          acquireConnection: async () => ({
            executeQuery: async (query) => {
              compiled.push({ kind: query.query.kind, target: queryNodeTarget(query.query) })
              return { rows: [] }
            },
            // biome-ignore lint/correctness/useYield: never streams.
            streamQuery: async function* () {
              return
            },
          }),
          releaseConnection: async () => {},
          beginTransaction: async () => {},
          commitTransaction: async () => {},
          rollbackTransaction: async () => {},
          destroy: async () => {},
        }),
        createIntrospector: (k) => new PostgresIntrospector(k),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    })
    await spy.selectFrom('person').selectAll().explain('json')
    await spy.insertInto('audit').values({ id: 1, note: 'x' }).explain()
    expect(compiled).toEqual([
      { kind: 'SelectQueryNode', target: 'replica' },
      { kind: 'InsertQueryNode', target: 'primary' },
    ])
  })
})
