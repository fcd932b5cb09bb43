import { describe, expect, it } from 'vitest'
import { hashName, hashToken } from '../src/classify/name-hash.js'
import { HINT_PRIMARY, HINT_REPLICA } from '../src/classify/sql-comments.js'
import { SqlScanner } from '../src/classify/sql-scanner.js'
import {
  TOKEN_COMMA,
  TOKEN_DOT,
  TOKEN_END,
  TOKEN_LPAREN,
  TOKEN_NUMBER,
  TOKEN_OTHER,
  TOKEN_PARAM,
  TOKEN_QUOTED_IDENT,
  TOKEN_RPAREN,
  TOKEN_SEMICOLON,
  TOKEN_STRING,
  TOKEN_WORD,
} from '../src/classify/sql-tokens.js'

const NAMES: Record<number, string> = {
  [TOKEN_WORD]: 'word',
  [TOKEN_QUOTED_IDENT]: 'ident',
  [TOKEN_STRING]: 'string',
  [TOKEN_NUMBER]: 'number',
  [TOKEN_PARAM]: 'param',
  [TOKEN_LPAREN]: '(',
  [TOKEN_RPAREN]: ')',
  [TOKEN_SEMICOLON]: ';',
  [TOKEN_COMMA]: ',',
  [TOKEN_DOT]: '.',
  [TOKEN_OTHER]: 'other',
}

function scan(sql: string): { tokens: string[]; hints: number; unterminated: boolean } {
  const scanner = new SqlScanner()
  scanner.reset(sql)
  const tokens: string[] = []
  for (let kind = scanner.next(); kind !== TOKEN_END; kind = scanner.next()) {
    tokens.push(`${NAMES[kind]}:${sql.slice(scanner.start, scanner.end)}`)
  }
  return { tokens, hints: scanner.hints, unterminated: scanner.unterminated }
}

describe('SqlScanner', () => {
  it.each<[string, string[]]>([
    ['SELECT a, b FROM t;', ['word:SELECT', 'word:a', ',:,', 'word:b', 'word:FROM', 'word:t', ';:;']],
    ["'it''s' x", ["string:'it''s'", 'word:x']],
    ["E'\\'' x", ["string:E'\\''", 'word:x']],
    ["e'a\\\\' 'b'", ["string:e'a\\\\'", "string:'b'"]],
    ["E'a''b' c", ["string:E'a''b'", 'word:c']],
    ["'a\\' b", ["string:'a\\'", 'word:b']],
    ["B'0101' X'ff' N'n'", ["string:B'0101'", "string:X'ff'", "string:N'n'"]],
    ['U&\'d\\0061t\' U&"d\\0061t"', ["string:U&'d\\0061t'", 'ident:U&"d\\0061t"']],
    ["somee'x'", ['word:somee', "string:'x'"]],
    ['"a ""b"" c".d', ['ident:"a ""b"" c"', '.:.', 'word:d']],
    ['$$ a; \' " $$ x', ['string:$$ a; \' " $$', 'word:x']],
    ['$tag$ $ $$ $t$ $tag$;', ['string:$tag$ $ $$ $t$ $tag$', ';:;']],
    ['$a1$x$a1$', ['string:$a1$x$a1$']],
    ['$1 + $23', ['param:$1', 'other:+', 'param:$23']],
    ['a$b$c', ['word:a$b$c']],
    ['x::int[]', ['word:x', 'other::', 'other::', 'word:int', 'other:[', 'other:]']],
    ['1.5e3 .5 0x1F 1_000', ['number:1.5e3', 'number:.5', 'number:0x1F', 'number:1_000']],
    ['a/* x /* nested */ still */b', ['word:a', 'word:b']],
    ['a -- comment ; \nb', ['word:a', 'word:b']],
    ['a<--b', ['word:a', 'other:<']],
    ['café naïve', ['word:café', 'word:naïve']],
    ['(a.b)', ['(:(', 'word:a', '.:.', 'word:b', '):)']],
  ])('%s', (sql, tokens) => {
    expect(scan(sql).tokens).toEqual(tokens)
  })

  it.each([
    ["SELECT 'abc", true],
    ['SELECT "abc', true],
    ["SELECT E'abc\\'", true],
    ['SELECT $$abc', true],
    ['SELECT $x$abc$y$', true],
    ['SELECT 1 /* abc', true],
    ['SELECT 1 /* a /* b */', true],
    ['SELECT 1 -- abc', false],
    ["SELECT 'a''b'", false],
  ])('unterminated: %s -> %s', (sql, unterminated) => {
    expect(scan(sql).unterminated).toBe(unterminated)
  })

  it.each([
    ['/* pgroute:primary */ SELECT 1', HINT_PRIMARY],
    ['/*pgroute:replica*/ SELECT 1', HINT_REPLICA],
    ['SELECT 1 -- pgroute:primary', HINT_PRIMARY],
    ['SELECT 1 --pgroute:replica\n', HINT_REPLICA],
    ['/*  PGROUTE:Primary */', HINT_PRIMARY],
    ['/* outer /* pgroute:replica */ */', HINT_REPLICA],
    ['/* pgroute:primary */ /* pgroute:replica */', HINT_PRIMARY | HINT_REPLICA],
    ["SELECT '/* pgroute:primary */'", 0],
    ['SELECT $$ -- pgroute:primary $$', 0],
    ['SELECT "/* pgroute:primary */"', 0],
    ['/* pgroute:primaryx */', 0],
    ['/* pgroute:other */', 0],
    ['/* see pgroute:primary */', 0],
    ['SELECT 1 --\npgroute:primary', 0],
    ['SELECT 1 /*\n  pgroute:primary\n*/', HINT_PRIMARY],
  ])('hints: %s', (sql, hints) => {
    expect(scan(sql).hints).toBe(hints)
  })

  it('hashes words case-insensitively, like hashName and hashToken', () => {
    const scanner = new SqlScanner()
    for (const sql of ['NextVal', 'nextval', 'NEXTVAL']) {
      scanner.reset(sql)
      scanner.next()
      expect(scanner.hash).toBe(hashName('nextval'))
      expect(hashToken({ text: sql, start: 0, end: sql.length, quoted: false })).toBe(hashName('nextval'))
    }
  })

  it.each([
    ['"NextVal"', 'nextval'],
    ['"a""b"', 'a"b'],
    ['""""', '"'],
    ['"x.y"', 'x.y'],
  ])('hashes the quoted identifier %s like the name %s', (sql, name) => {
    expect(hashToken({ text: sql, start: 0, end: sql.length, quoted: true })).toBe(hashName(name))
  })
})
