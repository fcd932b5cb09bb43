import { describe, expect, it } from 'vitest'
import { createClassifier, LearnedRoutes, learnedReason } from '../src/classify/index.js'
import { MAX_LEARNED_LENGTH } from '../src/classify/learned-routes.js'

const classifier = createClassifier()

function route(learned: LearnedRoutes, sql: string) {
  return learned.route(sql, classifier.classify(sql))
}

describe('learnedReason', () => {
  it.each([
    ['25006', 'read-only'],
    ['0A000', 'unlogged'],
    ['55000', 'recovery'],
  ] as const)('learns from SQLSTATE %s as %s', (code, reason) => {
    expect(learnedReason(Object.assign(new Error('refused'), { code }))).toBe(reason)
  })

  it.each([['40001'], ['57P01'], [undefined], [42]])('learns nothing from code %s', (code) => {
    expect(learnedReason(Object.assign(new Error('x'), { code }))).toBeUndefined()
  })

  it('learns nothing from non-errors', () => {
    expect(learnedReason(null)).toBeUndefined()
    expect(learnedReason('25006')).toBeUndefined()
  })
})

describe('LearnedRoutes', () => {
  it('sends a learned text to the primary, keeping its transaction field, and counts the hits', () => {
    const learned = new LearnedRoutes()
    expect(route(learned, 'SELECT add_job($1)')).toEqual({ target: 'replica', reason: 'read' })
    expect(learned.learn('SELECT add_job($1)', 'read-only')).toBe(true)
    expect(learned.lookup('SELECT add_job($1)')).toBe('read-only')
    expect(route(learned, 'SELECT add_job($1)')).toEqual({ target: 'primary', reason: 'learned:read-only' })
    expect(route(learned, 'SELECT add_job($1)')).toBe(route(learned, 'SELECT add_job($1)'))
    expect(Object.isFrozen(route(learned, 'SELECT add_job($1)'))).toBe(true)
    learned.learn('BEGIN READ ONLY; SELECT * FROM cache; COMMIT', 'unlogged')
    expect(route(learned, 'BEGIN READ ONLY; SELECT * FROM cache; COMMIT')).toEqual({
      target: 'primary',
      reason: 'learned:unlogged',
      transaction: 'end',
    })
    expect(learned.entries()).toEqual([
      { statement: 'SELECT add_job($1)', reason: 'read-only', hits: 4 },
      { statement: 'BEGIN READ ONLY; SELECT * FROM cache; COMMIT', reason: 'unlogged', hits: 1 },
    ])
  })

  it('matches the exact text only and leaves primary statements alone', () => {
    const learned = new LearnedRoutes()
    learned.learn('SELECT f()', 'read-only')
    expect(route(learned, 'select f()')).toEqual({ target: 'replica', reason: 'read' })
    learned.learn('DELETE FROM t', 'read-only')
    expect(route(learned, 'DELETE FROM t')).toEqual({ target: 'primary', reason: 'write' })
  })

  it('keeps the reason first learned', () => {
    const learned = new LearnedRoutes()
    learned.learn('SELECT f()', 'recovery')
    learned.learn('SELECT f()', 'read-only')
    expect(learned.lookup('SELECT f()')).toBe('recovery')
  })

  it('is bounded: the least recently used text is forgotten', () => {
    const learned = new LearnedRoutes(3)
    for (const n of [1, 2, 3, 4]) learned.learn(`SELECT f(${n})`, 'read-only')
    expect(learned.size).toBe(3)
    expect(learned.lookup('SELECT f(1)')).toBeUndefined()
    expect(learned.lookup('SELECT f(4)')).toBe('read-only')
  })

  it('does not remember texts longer than the limit, and shows 200 characters of the others', () => {
    const learned = new LearnedRoutes()
    expect(learned.learn(`SELECT '${'x'.repeat(MAX_LEARNED_LENGTH)}'`, 'read-only')).toBe(false)
    expect(learned.size).toBe(0)
    const long = `SELECT f('${'y'.repeat(300)}')`
    learned.learn(long, 'read-only')
    expect(learned.entries()[0]!.statement).toBe(long.slice(0, 200))
    expect(route(learned, long).target).toBe('primary')
  })
})

describe('LearnedRoutes expiry', () => {
  const text = 'SELECT * FROM scratch'

  it('a route expires after its TTL: the text goes to a replica again, and is learned again if refused', () => {
    let now = 1000
    const learned = new LearnedRoutes(10, 60_000, () => now)
    learned.learn(text, 'unlogged')
    now += 59_999
    expect(route(learned, text)).toMatchObject({ target: 'primary', reason: 'learned:unlogged' })
    now += 1
    expect(route(learned, text)).toEqual({ target: 'replica', reason: 'read' })
    expect(learned.lookup(text)).toBeUndefined()
    expect(learned.entries()).toEqual([])
    expect(learned.counts()).toEqual({ size: 0, learned: 1, expired: 1, invalidated: 0 })
    learned.learn(text, 'unlogged')
    expect(route(learned, text)).toMatchObject({ target: 'primary' })
    expect(learned.counts()).toEqual({ size: 1, learned: 2, expired: 1, invalidated: 0 })
  })

  it.each([
    'ALTER TABLE scratch SET LOGGED',
    'CREATE OR REPLACE FUNCTION add_job(text) RETURNS void LANGUAGE sql AS $$ SELECT 1 $$',
    'drop view report',
    'BEGIN; ALTER TABLE scratch SET UNLOGGED; COMMIT',
  ])('DDL routed to the primary (%s) forgets every route', (ddl) => {
    const learned = new LearnedRoutes()
    learned.learn(text, 'unlogged')
    learned.learn('SELECT add_job($1)', 'read-only')
    expect(route(learned, ddl).target).toBe('primary')
    expect(route(learned, text)).toEqual({ target: 'replica', reason: 'read' })
    expect(learned.counts()).toEqual({ size: 0, learned: 2, expired: 0, invalidated: 2 })
  })

  it('other writes keep the routes', () => {
    const learned = new LearnedRoutes()
    learned.learn(text, 'unlogged')
    for (const sql of ['INSERT INTO t (created) VALUES (now())', 'UPDATE t SET dropped_at = now()']) {
      expect(route(learned, sql).target).toBe('primary')
    }
    expect(route(learned, text)).toMatchObject({ target: 'primary', reason: 'learned:unlogged' })
  })
})
