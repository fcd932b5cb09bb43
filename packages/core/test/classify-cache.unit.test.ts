import { describe, expect, it } from 'vitest'
import { classify, createClassifier, DEFAULT_WRITE_FUNCTIONS } from '../src/classify/index.js'
import { isConfigError } from '../src/errors.js'

describe('classification cache', () => {
  it('returns the cached classification object on a hit', () => {
    const classifier = createClassifier()
    const first = classifier.classify('SELECT * FROM t WHERE id = $1')
    expect(classifier.classify('SELECT * FROM t WHERE id = $1')).toBe(first)
  })

  it('classifies afresh when caching is disabled', () => {
    const classifier = createClassifier({ cacheSize: 0 })
    const first = classifier.classify('SELECT 1')
    const second = classifier.classify('SELECT 1')
    expect(second).toEqual(first)
    expect(second).not.toBe(first)
  })

  it('keeps at most cacheSize entries, evicting the least recently used', () => {
    const classifier = createClassifier({ cacheSize: 3 })
    const a = classifier.classify('SELECT 1')
    const b = classifier.classify('SELECT 2')
    classifier.classify('SELECT 3')
    expect(classifier.classify('SELECT 1')).toBe(a) // touch: SELECT 2 is now the oldest
    classifier.classify('SELECT 4') // evicts SELECT 2
    expect(classifier.classify('SELECT 1')).toBe(a)
    const b2 = classifier.classify('SELECT 2') // re-classified, evicts SELECT 3
    expect(b2).toEqual(b)
    expect(b2).not.toBe(b)
    expect(classifier.classify('SELECT 2')).toBe(b2)
  })

  it('never evicts a statement used at least once per cacheSize / 2 new texts', () => {
    const classifier = createClassifier({ cacheSize: 100 })
    const hot = classifier.classify('SELECT hot')
    for (let i = 0; i < 5000; i++) {
      classifier.classify(`SELECT ${i}`)
      if (i % 40 === 0) expect(classifier.classify('SELECT hot')).toBe(hot)
    }
    expect(classifier.classify('SELECT hot')).toBe(hot)
  })

  it('evicts a statement no longer used', () => {
    const classifier = createClassifier({ cacheSize: 100 })
    const cold = classifier.classify('SELECT cold')
    for (let i = 0; i < 100; i++) classifier.classify(`SELECT ${i}`)
    expect(classifier.classify('SELECT cold')).not.toBe(cold)
  })

  it('never holds more than cacheSize entries however many texts it sees', () => {
    const classifier = createClassifier({ cacheSize: 10 })
    const results = Array.from({ length: 100 }, (_, i) => classifier.classify(`SELECT ${i}`))
    const kept = results.filter((result, i) => classifier.classify(`SELECT ${i}`) === result).length
    expect(kept).toBeLessThanOrEqual(10)
  })

  it('does not cache texts longer than maxCachedLength', () => {
    const classifier = createClassifier({ maxCachedLength: 20 })
    const short = 'SELECT 1'
    const long = `SELECT ${'1 + '.repeat(10)}1`
    expect(classifier.classify(short)).toBe(classifier.classify(short))
    const first = classifier.classify(long)
    expect(first).toEqual({ target: 'replica', reason: 'read' })
    expect(classifier.classify(long)).not.toBe(first)
  })

  it('caches texts of exactly maxCachedLength', () => {
    const text = 'SELECT 12345'
    const classifier = createClassifier({ maxCachedLength: text.length })
    expect(classifier.classify(text)).toBe(classifier.classify(text))
  })

  it('classify() shares one default classifier', () => {
    expect(classify('SELECT 42')).toBe(classify('SELECT 42'))
  })

  it('classify() with writeFunctions uses a classifier for that array', () => {
    const writeFunctions = ['app_write']
    expect(classify('SELECT app_write(1)')).toEqual({ target: 'replica', reason: 'read' })
    const first = classify('SELECT app_write(1)', { writeFunctions })
    expect(first).toEqual({ target: 'primary', reason: 'volatile-function:app_write' })
    expect(classify('SELECT app_write(1)', { writeFunctions })).toBe(first)
    expect(classify('SELECT app_write(1)', { writeFunctions: [] })).toEqual({
      target: 'replica',
      reason: 'read',
    })
  })
})

describe('classifier options', () => {
  it.each<[string, unknown, string]>([
    ['cacheSize', { cacheSize: -1 }, 'cacheSize'],
    ['cacheSize', { cacheSize: 1.5 }, 'cacheSize'],
    ['cacheSize', { cacheSize: '10' }, 'cacheSize'],
    ['cacheSize', { cacheSize: Number.NaN }, 'cacheSize'],
    ['cacheSize', { cacheSize: Number.POSITIVE_INFINITY }, 'cacheSize'],
    ['maxCachedLength', { maxCachedLength: -5 }, 'maxCachedLength'],
    ['maxCachedLength', { maxCachedLength: null }, 'maxCachedLength'],
    ['writeFunctions', { writeFunctions: 'nextval' }, 'writeFunctions'],
    ['writeFunctions', { writeFunctions: [''] }, 'writeFunctions[0]'],
    ['writeFunctions', { writeFunctions: ['ok', 42] }, 'writeFunctions[1]'],
    ['writeFunctions', { writeFunctions: ['a.b.c'] }, 'writeFunctions[0]'],
    ['writeFunctions', { writeFunctions: ['f()'] }, 'writeFunctions[0]'],
    ['writeFunctions', { writeFunctions: ['has space'] }, 'writeFunctions[0]'],
    ['writeFunctions', { writeFunctions: ['.f'] }, 'writeFunctions[0]'],
    ['writeFunctions', { writeFunctions: ['s.'] }, 'writeFunctions[0]'],
    ['writeFunctions', { writeFunctions: ['"unclosed'] }, 'writeFunctions[0]'],
    ['options', 'nope', 'options'],
  ])('rejects an invalid %s up front: %j', (_name, options, option) => {
    let error: unknown
    try {
      createClassifier(options as never)
    } catch (caught) {
      error = caught
    }
    expect(isConfigError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_INVALID_OPTION', option })
    expect((error as Error).message).toContain(option)
  })

  it.each([
    [['f'], 'SELECT f(1)'],
    [['  s.f  '], 'SELECT s.f(1)'],
    [['"My Schema"."My.Func"'], 'SELECT "my schema"."my.func"(1)'],
    [['"a""b"'], 'SELECT "a""b"(1)'],
    [['Caps'], 'SELECT caps(1)'],
    [['_f$1'], 'SELECT _f$1(1)'],
  ])('accepts function name %j', (writeFunctions, sql) => {
    expect(createClassifier({ writeFunctions }).classify(sql).target).toBe('primary')
  })

  it('rejects a non-string SQL text with a TypeError', () => {
    expect(() => createClassifier().classify(42 as never)).toThrow(TypeError)
    expect(() => createClassifier({ cacheSize: 0 }).classify(undefined as never)).toThrow(TypeError)
  })

  it('exposes the built-in write functions', () => {
    expect(DEFAULT_WRITE_FUNCTIONS).toContain('nextval')
    expect(Object.isFrozen(DEFAULT_WRITE_FUNCTIONS)).toBe(true)
    const classifier = createClassifier({ cacheSize: 0 })
    for (const name of DEFAULT_WRITE_FUNCTIONS) {
      const call = /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name}"`
      expect(classifier.classify(`SELECT ${call}(1)`)).toEqual({
        target: 'primary',
        reason: `volatile-function:${name}`,
      })
    }
  })
})
