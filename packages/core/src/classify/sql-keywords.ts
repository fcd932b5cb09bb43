import { foldCase, hashName, keyBits, keyHigh, keyLow, sameWord } from './name-hash.js'
import * as codes from './sql-keyword-codes.js'
import { CATEGORY_GENERIC } from './sql-keyword-codes.js'
import { KEYWORD_LIST } from './sql-keyword-list.js'
import { TOKEN_DOT, TOKEN_QUOTED_IDENT, TOKEN_WORD } from './sql-tokens.js'

export * from './sql-keyword-codes.js'

type Category = keyof typeof CATEGORY_GENERIC

/** Constants of `sql-keyword-codes.ts` that bound or group codes rather than name one word. */
const NOT_WORDS: ReadonlySet<string> = new Set([
  'KW_MIN',
  'KW_COL_NAME_MIN',
  'KW_TYPE_FUNC_NAME_MIN',
  'KW_RESERVED_MIN',
  'KW_UNRESERVED',
  'KW_COL_NAME',
  'KW_TYPE_FUNC_NAME',
  'KW_RESERVED',
])

/** The words `sql-keyword-codes.ts` gives a code of their own, by word. */
export const NAMED_CODES: ReadonlyMap<string, number> = new Map(
  Object.entries(codes)
    .filter(([name, value]) => name.startsWith('KW_') && !NOT_WORDS.has(name) && typeof value === 'number')
    .map(([name, code]) => [name.slice(3).toLowerCase(), code as number]),
)

const ORDER = 'UCTR'

/**
 * The category the classifier gives `word` from its columns in the generated list: a word that is no keyword in
 * some supported major is an ordinary name (undefined), since a text may be written for that major; otherwise the
 * least reserved of its categories, the reading under which the word can name the most.
 */
export function effectiveCategory(columns: string): Category | undefined {
  let best: Category | undefined
  for (const column of columns.split(' ')) {
    const category = column.charAt(0)
    if (category === '-') return undefined
    if (best === undefined || ORDER.indexOf(category) < ORDER.indexOf(best)) best = category as Category
  }
  return best
}

/** Every keyword with its code: its own (NAMED_CODES) or the generic code of its category. */
const KEYWORDS: ReadonlyArray<readonly [string, number]> = KEYWORD_LIST.flatMap(([word, columns]) => {
  const category = effectiveCategory(columns)
  if (category === undefined) return []
  return [[word, NAMED_CODES.get(word) ?? CATEGORY_GENERIC[category]] as const]
})

/** The word key of a folded word string (see name-hash.ts). */
export function wordKey(word: string): { low: number; high: number } {
  let low = 0
  let high = 0
  for (let i = 0; i < word.length; i++) {
    high = keyHigh(high, low)
    low = keyLow(low, keyBits(foldCase(word.charCodeAt(i))))
  }
  return { low, high }
}

// An open-addressing table on typed arrays: a lookup per word is a few array reads, no Map hashing.
const TABLE_SIZE = 2048
const tableHashes = new Int32Array(TABLE_SIZE)
const tableCodes = new Int32Array(TABLE_SIZE) // 0 marks a free slot
const tableLengths = new Int32Array(TABLE_SIZE)
const tableLows = new Int32Array(TABLE_SIZE)
const tableHighs = new Int32Array(TABLE_SIZE)
const tableWords: string[] = new Array(TABLE_SIZE).fill('')
for (const [word, code] of KEYWORDS) {
  const hash = hashName(word)
  let slot = hash & (TABLE_SIZE - 1)
  while (tableCodes[slot] !== 0) {
    if (tableHashes[slot] === hash) throw new Error(`Keyword hash collision: ${word} and ${tableWords[slot]}`)
    slot = (slot + 1) & (TABLE_SIZE - 1)
  }
  const { low, high } = wordKey(word)
  tableHashes[slot] = hash
  tableCodes[slot] = code
  tableLengths[slot] = word.length
  tableLows[slot] = low
  tableHighs[slot] = high
  tableWords[slot] = word
}

/**
 * An unquoted word `text[start, end)` with its case-folded hash and its word key (the scanner's current word is
 * one; see name-hash.ts).
 */
export interface ScannedWord {
  readonly text: string
  readonly start: number
  readonly end: number
  readonly hash: number
  readonly low: number
  readonly high: number
}

/** The keyword code of `word`, or `notKeyword`. */
export function keywordCode(word: ScannedWord, notKeyword: number): number {
  const hash = word.hash
  let slot = hash & (TABLE_SIZE - 1)
  for (let code = tableCodes[slot]!; code !== 0; code = tableCodes[slot]!) {
    if (tableHashes[slot] === hash) {
      // No two keywords share a hash: this is the only keyword the word can be.
      const length = word.end - word.start
      if (length !== tableLengths[slot]) return notKeyword
      if (length <= 8)
        return word.low === tableLows[slot] && word.high === tableHighs[slot] ? code : notKeyword
      return sameWord(word.text, word.start, word.end, tableWords[slot]!) ? code : notKeyword
    }
    slot = (slot + 1) & (TABLE_SIZE - 1)
  }
  return notKeyword
}

/**
 * The code the scanner's current token of TOKEN_* `kind` stands for after a token of code `p1`: a word's keyword
 * code, or its kind. After `.` or AS a keyword is just a name (t.update, AS update), except AS [NOT] MATERIALIZED
 * of a CTE.
 */
export function tokenCode(word: ScannedWord, kind: number, p1: number): number {
  if (kind !== TOKEN_WORD) return kind
  const code = p1 === TOKEN_DOT ? TOKEN_WORD : keywordCode(word, TOKEN_WORD)
  return p1 === codes.KW_AS && code !== codes.KW_NOT && code !== codes.KW_MATERIALIZED ? TOKEN_WORD : code
}

/** Whether `code` (a keyword code or TOKEN_* kind) may name a table or column without quotes: ColId. */
export function isColumnName(code: number): boolean {
  return (
    code === TOKEN_WORD ||
    code === TOKEN_QUOTED_IDENT ||
    (code >= codes.KW_MIN && code < codes.KW_TYPE_FUNC_NAME_MIN)
  )
}

/** Whether `code` (a keyword code or TOKEN_* kind) may name something: words, quoted identifiers, and keywords after `.`. */
export function isName(code: number): boolean {
  return code === TOKEN_WORD || code === TOKEN_QUOTED_IDENT || code >= codes.KW_MIN
}
