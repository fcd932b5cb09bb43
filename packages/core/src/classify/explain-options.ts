import { identifierText } from './identifier-text.js'
import * as K from './sql-keywords.js'
import {
  type SqlScanner,
  TOKEN_COMMA,
  TOKEN_NUMBER,
  TOKEN_QUOTED_IDENT,
  TOKEN_STRING,
} from './sql-scanner.js'

/*
 * EXPLAIN's option list as the server reads it (ParseExplainOptionList, defGetBoolean): only ANALYZE matters
 * for routing, so only its name and its boolean value are recognised here.
 */

/**
 * Whether the scanner's current token of `text` (TOKEN_* `kind`, keyword `code`) names the ANALYZE option. Names
 * compare after lexing: unquoted words fold to lower case, "quoted" and U&"…" names are taken as they spell
 * (so "ANALYZE" is an unknown option, not ANALYZE).
 */
export function isAnalyzeOption(text: string, scanner: SqlScanner, kind: number, code: number): boolean {
  if (code === K.KW_ANALYZE || code === K.KW_ANALYSE) return true
  if (kind !== TOKEN_QUOTED_IDENT) return false
  const name = identifierText(text, scanner.start, scanner.escape)
  return name === 'analyze' || name === 'analyse'
}

/**
 * Whether the scanner's current token of `text` is a boolean option value meaning false, as defGetBoolean()
 * reads one: the integer 0, or `false` / `off` (any case) as a word, quoted name or string. A string with
 * escapes counts as true: the primary is the safe side.
 */
export function isFalseValue(text: string, scanner: SqlScanner, kind: number, code: number): boolean {
  if (code === K.KW_FALSE || code === K.KW_OFF) return true
  const { start, end } = scanner
  let value: string
  if (kind === TOKEN_NUMBER) return /^0+$/.test(text.slice(start, end))
  if (kind === TOKEN_QUOTED_IDENT) value = identifierText(text, start, scanner.escape)
  else if (kind === TOKEN_STRING && text.charCodeAt(start) === 36) {
    const tag = text.indexOf('$', start + 1) + 1 - start
    value = text.slice(start + tag, end - tag)
  } else if (kind === TOKEN_STRING) {
    const open = text.indexOf("'", start)
    // Only '…' and E'…' can spell a plain word (a backslash would be an escape in E'…'); not B, X, N or U&.
    if (open - start > 1 || (open > start && (text.charCodeAt(start) | 32) !== 101)) return false
    value = text.slice(open + 1, end - 1)
    if (value.includes('\\') || value.includes("'")) return false
  } else return false
  value = value.toLowerCase()
  return value === 'false' || value === 'off'
}

/**
 * The option list of `EXPLAIN (…)`, fed one token at a time: whether it turns ANALYZE on. Options are read at
 * the list's own depth only (a value may be parenthesised), and a later ANALYZE option overrides an earlier one.
 */
export class ExplainOptionList {
  /** ANALYZE is on, as far as the list has been read. */
  analyze = false
  #depth = 0
  #expectName = false
  #nameIsAnalyze = false

  /** Starts on a list whose `(` opened parser depth `depth`. */
  open(depth: number): void {
    this.analyze = false
    this.#depth = depth
    this.#expectName = true
    this.#nameIsAnalyze = false
  }

  /**
   * Takes the scanner's current token (TOKEN_* `kind`, keyword `code`) at parser `depth`. False once the list
   * has closed (this token is its `)`).
   */
  push(scanner: SqlScanner, kind: number, code: number, depth: number): boolean {
    if (depth < this.#depth) return false
    if (depth !== this.#depth) return true
    if (code === TOKEN_COMMA) {
      this.#expectName = true
      this.#nameIsAnalyze = false
    } else if (this.#expectName) {
      this.#expectName = false
      this.#nameIsAnalyze = isAnalyzeOption(scanner.text, scanner, kind, code)
      if (this.#nameIsAnalyze) this.analyze = true
    } else if (this.#nameIsAnalyze) {
      this.analyze = !isFalseValue(scanner.text, scanner, kind, code)
    }
    return true
  }
}
