import { describe, expect, it } from 'vitest'
import { identifierText } from '../src/classify/identifier-text.js'
import { SqlScanner } from '../src/classify/sql-scanner.js'
import { TOKEN_END, TOKEN_QUOTED_IDENT } from '../src/classify/sql-tokens.js'

/** The quoted identifier tokens of `sql`: their text, their escape character and the name they spell. */
function identifiers(sql: string): Array<[token: string, marker: string, name: string]> {
  const scanner = new SqlScanner()
  scanner.reset(sql)
  const out: Array<[string, string, string]> = []
  for (let kind = scanner.next(); kind !== TOKEN_END; kind = scanner.next()) {
    if (kind !== TOKEN_QUOTED_IDENT) continue
    const marker = scanner.escape < 0 ? '' : String.fromCharCode(scanner.escape)
    out.push([
      sql.slice(scanner.start, scanner.end),
      marker,
      identifierText(sql, scanner.start, scanner.escape),
    ])
  }
  return out
}

describe('quoted and U& identifiers', () => {
  it.each<[string, Array<[string, string, string]>]>([
    ['SELECT "a""b"', [['"a""b"', '', 'a"b']]],
    ['SELECT U&"pg_advisory_lock"(1)', [['U&"pg_advisory_lock"', '\\', 'pg_advisory_lock']]],
    ['SELECT u&"\\006Eextval"(1)', [['u&"\\006Eextval"', '\\', 'nextval']]],
    ['SELECT U&"\\+00006Eextval"', [['U&"\\+00006Eextval"', '\\', 'nextval']]],
    ['SELECT U&"d\\0061t\\+000061"', [['U&"d\\0061t\\+000061"', '\\', 'data']]],
    ['SELECT U&"a\\\\b"', [['U&"a\\\\b"', '\\', 'a\\b']]],
    [`SELECT U&"!0070g" UESCAPE '!' (1)`, [[`U&"!0070g" UESCAPE '!'`, '!', 'pg']]],
    [`SELECT U&"!!x" uescape '!'`, [[`U&"!!x" uescape '!'`, '!', '!x']]],
    [`SELECT U&"#0041" /* c */ UESCAPE\n  '#'`, [[`U&"#0041" /* c */ UESCAPE\n  '#'`, '#', 'A']]],
    // With another escape, a backslash is a plain character.
    [`SELECT U&"\\0041" UESCAPE '!'`, [[`U&"\\0041" UESCAPE '!'`, '!', '\\0041']]],
    // Not a UESCAPE clause: the identifier ends at its quote.
    [`SELECT U&"x" UESCAPEX '!'`, [['U&"x"', '\\', 'x']]],
    [`SELECT U&"x" UESCAPE 'ab'`, [['U&"x"', '\\', 'x']]],
    // An invalid escape (which the server rejects) is left as it is.
    ['SELECT U&"\\zz"', [['U&"\\zz"', '\\', '\\zz']]],
    ['SELECT U&"\\+110000"', [['U&"\\+110000"', '\\', '\\+110000']]],
  ])('%s', (sql, expected) => {
    expect(identifiers(sql)).toEqual(expected)
  })

  it('reads a U& identifier the text ends in', () => {
    expect(identifiers('SELECT U&"\\0041')).toEqual([['U&"\\0041', '\\', 'A']])
  })
})
