import { identifierText } from './identifier-text.js'
import * as K from './sql-keywords.js'
import type { SqlScanner } from './sql-scanner.js'
import { TOKEN_COMMA, TOKEN_NUMBER, TOKEN_QUOTED_IDENT, TOKEN_STRING } from './sql-tokens.js'
import { literalValue } from './string-literal.js'

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

const INTEGER_FORMS = [
  /^[0-9](_?[0-9])*$/,
  /^0[xX](_?[0-9a-fA-F])+$/,
  /^0[oO](_?[0-7])+$/,
  /^0[bB](_?[01])+$/,
]

/**
 * Whether the number token `text[start, end)` is an integer literal of value 0 in any form scan.l reads (decimal,
 * 0x, 0o, 0b, with single `_` between digits): the Integer node 0 for defGetBoolean().
 */
export function isIntegerZero(text: string, start: number, end: number): boolean {
  const literal = text.slice(start, end)
  if (!INTEGER_FORMS.some((form) => form.test(literal))) return false
  const digits = /^0[xXoObB]/.test(literal) ? literal.slice(2) : literal
  return /^[0_]+$/.test(digits)
}

/**
 * Whether the scanner's current token of `text` is a boolean option value meaning false, as defGetBoolean() reads
 * one: the integer 0 (a sign before it is read as a token of its own), or `false` / `off` (any case) as a word,
 * quoted name or string literal of any form (escapes, U&, UESCAPE, dollar quotes, continued segments). A literal
 * that cannot be decoded counts as true: the primary is the safe side.
 */
export function isFalseValue(text: string, scanner: SqlScanner, kind: number, code: number): boolean {
  if (code === K.KW_FALSE || code === K.KW_OFF) return true
  const { start, end } = scanner
  let value: string | undefined
  if (kind === TOKEN_NUMBER) return isIntegerZero(text, start, end)
  if (kind === TOKEN_QUOTED_IDENT) value = identifierText(text, start, scanner.escape)
  else if (kind === TOKEN_STRING)
    value = literalValue(text, start, end, scanner.escapeInPlain, scanner.escape)
  if (value === undefined) return false
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
