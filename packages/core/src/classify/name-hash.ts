/*
 * Case-folded FNV-1a hashes of SQL names, shared by the scanner (which hashes while it scans) and the keyword
 * and function tables, so a name is recognised with one integer Map lookup and no string allocation.
 * Only ASCII letters fold, as PostgreSQL folds unquoted identifiers.
 */

/** Initial value of a name hash. */
export const HASH_SEED = 0x811c9dc5 | 0

/** Lower-cases an ASCII letter code; leaves every other code unit alone. */
export function foldCase(code: number): number {
  return code >= 65 && code <= 90 ? code | 32 : code
}

/** Adds one (already folded) code unit to a hash. */
export function hashStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193)
}

/** Final form of a hash: 30 bits keep it a small integer, which Map handles fastest. */
export function hashFinish(hash: number): number {
  return hash & 0x3fffffff
}

/*
 * A word key: the last eight code units of a word, folded, at 7 bits each, in two numbers: `low` holds the last
 * four, `high` the four before. With its length, a word of up to eight code units is spelled out exactly (a code
 * unit outside ASCII counts as 127, which no keyword holds): a keyword is then recognised without reading the
 * text again.
 */

/** 7 bits of a folded code unit for a word key. */
export function keyBits(folded: number): number {
  return folded < 128 ? folded : 127
}

/** The `high` half of a word key after one more code unit, from the halves before it. */
export function keyHigh(high: number, low: number): number {
  return (high << 7) | (low >>> 21)
}

/** The `low` half of a word key after one more code unit of {@link keyBits} `bits`. */
export function keyLow(low: number, bits: number): number {
  return ((low << 7) | bits) & 0xfffffff
}

/** Hash of a (folded) name string, equal to what the scanner computes for the same name in SQL text. */
export function hashName(name: string): number {
  let hash = HASH_SEED
  for (let i = 0; i < name.length; i++) hash = hashStep(hash, foldCase(name.charCodeAt(i)))
  return hashFinish(hash)
}

/**
 * Hash of the name token, equal to {@link hashName} of the name it spells: a quoted identifier is hashed by its
 * content, with `""` read as one `"`.
 */
export function hashToken(token: NameToken): number {
  const { text, quoted } = token
  let { start, end } = token
  let hash = HASH_SEED
  if (quoted) {
    start++
    end--
  }
  for (let pos = start; pos < end; pos++) {
    const code = text.charCodeAt(pos)
    if (quoted && code === 34) pos++ // the first of a doubled quote
    hash = hashStep(hash, foldCase(code))
  }
  return hashFinish(hash)
}

/** Lower-cases the ASCII letters of a name, as PostgreSQL does for unquoted identifiers. */
export function foldName(name: string): string {
  let folded = ''
  for (let i = 0; i < name.length; i++) folded += String.fromCharCode(foldCase(name.charCodeAt(i)))
  return folded
}

/**
 * A name token: `text[start, end)`, whose name is its content when `quoted` ("…", with `""` for `"`). A
 * decoded U&"…" name is passed as a quoted identifier text of its own.
 */
export interface NameToken {
  text: string
  start: number
  end: number
  quoted: boolean
}

/** True when the unquoted word `text[start, end)` spells the folded `name`, ignoring ASCII case. */
export function sameWord(text: string, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false
  for (let i = 0; i < name.length; i++) {
    if (foldCase(text.charCodeAt(start + i)) !== name.charCodeAt(i)) return false
  }
  return true
}

/**
 * True when `token` spells the folded `name`, ignoring ASCII case. A quoted identifier token is compared by its
 * content, with `""` read as one `"`, and with its case when `exactQuoted` (as PostgreSQL looks it up).
 */
export function sameName(token: NameToken, name: string, exactQuoted = false): boolean {
  const { text, start, end } = token
  if (!token.quoted) return sameWord(text, start, end, name)
  let i = 0
  for (let pos = start + 1; pos < end - 1; pos++, i++) {
    let code = text.charCodeAt(pos)
    if (code === 34) pos++ // the first of a doubled quote
    if (!exactQuoted) code = foldCase(code)
    if (i >= name.length || code !== name.charCodeAt(i)) return false
  }
  return i === name.length
}
