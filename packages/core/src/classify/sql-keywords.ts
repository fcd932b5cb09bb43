import { hashName, sameWord } from './name-hash.js'
import * as codes from './sql-keyword-codes.js'
import { KW_RESERVED } from './sql-keyword-codes.js'

export * from './sql-keyword-codes.js'

/** Constants of `sql-keyword-codes.ts` that bound or share codes rather than name one word. */
const NOT_WORDS: ReadonlySet<string> = new Set(['KW_MIN', 'KW_RESERVED_MIN', 'KW_RESERVED'])

// The other reserved words of PostgreSQL (including those that may only name functions or types), and
// BETWEEN, which can follow a column name but never start a table reference.
const OTHER_RESERVED = [
  'all',
  'any',
  'array',
  'asc',
  'asymmetric',
  'authorization',
  'between',
  'binary',
  'both',
  'cast',
  'check',
  'collate',
  'collation',
  'column',
  'concurrently',
  'constraint',
  'cross',
  'current_catalog',
  'current_date',
  'current_role',
  'current_schema',
  'current_time',
  'current_timestamp',
  'current_user',
  'default',
  'deferrable',
  'desc',
  'distinct',
  'else',
  'except',
  'foreign',
  'freeze',
  'full',
  'group',
  'having',
  'ilike',
  'in',
  'initially',
  'inner',
  'intersect',
  'is',
  'isnull',
  'join',
  'lateral',
  'leading',
  'left',
  'like',
  'limit',
  'localtime',
  'localtimestamp',
  'natural',
  'not',
  'notnull',
  'null',
  'offset',
  'on',
  'order',
  'outer',
  'overlaps',
  'placing',
  'primary',
  'references',
  'returning',
  'right',
  'session_user',
  'similar',
  'some',
  'symmetric',
  'system_user',
  'tablesample',
  'then',
  'trailing',
  'true',
  'union',
  'unique',
  'user',
  'using',
  'variadic',
  'when',
  'where',
  'window',
]

/** Every keyword with its code: `KW_<WORD>` names the word <word>. */
const KEYWORDS: ReadonlyArray<readonly [string, number]> = [
  ...Object.entries(codes)
    .filter(([name]) => !NOT_WORDS.has(name))
    .map(([name, code]) => [name.slice(3).toLowerCase(), code] as const),
  ...OTHER_RESERVED.map((word) => [word, KW_RESERVED] as const),
]

// An open-addressing table on typed arrays: a lookup per word is a few array reads, no Map hashing.
const TABLE_SIZE = 1024
const tableHashes = new Int32Array(TABLE_SIZE)
const tableCodes = new Int32Array(TABLE_SIZE) // 0 marks a free slot
const tableWords: string[] = new Array(TABLE_SIZE).fill('')
for (const [word, code] of KEYWORDS) {
  const hash = hashName(word)
  let slot = hash & (TABLE_SIZE - 1)
  while (tableCodes[slot] !== 0) {
    if (tableHashes[slot] === hash) throw new Error(`Keyword hash collision: ${word} and ${tableWords[slot]}`)
    slot = (slot + 1) & (TABLE_SIZE - 1)
  }
  tableHashes[slot] = hash
  tableCodes[slot] = code
  tableWords[slot] = word
}

/** An unquoted word `text[start, end)` and its case-folded hash (the scanner's current word is one). */
export interface ScannedWord {
  readonly text: string
  readonly start: number
  readonly end: number
  readonly hash: number
}

/** The keyword code of `word`, or `notKeyword`. */
export function keywordCode(word: ScannedWord, notKeyword: number): number {
  const hash = word.hash
  let slot = hash & (TABLE_SIZE - 1)
  for (let code = tableCodes[slot]!; code !== 0; code = tableCodes[slot]!) {
    if (tableHashes[slot] === hash)
      return sameWord(word.text, word.start, word.end, tableWords[slot]!) ? code : notKeyword
    slot = (slot + 1) & (TABLE_SIZE - 1)
  }
  return notKeyword
}
