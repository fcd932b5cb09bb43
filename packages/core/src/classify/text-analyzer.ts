import type { Classification, ClassificationReason } from './classification.js'
import type { FunctionMatcher } from './function-matcher.js'
import { HINT_PRIMARY, HINT_REPLICA } from './sql-comments.js'
import { SqlScanner } from './sql-scanner.js'
import { TOKEN_END, TOKEN_SEMICOLON } from './sql-tokens.js'
import { StatementAnalyzer } from './statement-analyzer.js'
import { TXN_BEGIN_READ_ONLY, TXN_END, TXN_NONE } from './statement-outcome.js'

const TRANSACTIONS = [undefined, 'begin', 'begin-read-only', 'end'] as const

/**
 * Classifies a whole SQL text in one pass: splits it into statements at top-level semicolons, lets
 * {@link StatementAnalyzer} judge each, and combines them, with hints and lexical errors taking precedence
 * (see docs/routing-rules.md). Holds per-text state, so one instance serves one caller at a time.
 */
export class TextAnalyzer {
  readonly #scanner = new SqlScanner()
  readonly #statement: StatementAnalyzer
  #statements = 0
  #firstPrimary = false
  #firstReason: ClassificationReason = 'unknown'
  #anyPrimary = false
  #transaction = TXN_NONE
  /** A READ ONLY transaction begun earlier in the text is open: its COMMIT and savepoints may follow it. */
  #readOnlyOpen = false
  /** HINT_* bits of the whole text. */
  #hints = 0

  readonly #functions: FunctionMatcher
  /** How deep in SQL texts given to functions this analyzer reads (0 for the statement's own text). */
  readonly #level: number
  /** Classifies the SQL texts given to functions that run it; made when first needed. */
  #inner: TextAnalyzer | undefined

  constructor(functions: FunctionMatcher, level = 0) {
    this.#functions = functions
    this.#level = level
    this.#statement = new StatementAnalyzer(this.#scanner, functions, (sql) => this.#isRead(sql))
  }

  /**
   * Classifies `text`; the result is frozen. A plain literal with a backslash reads differently with
   * standard_conforming_strings off, which the classifier cannot see: the text is then read both ways, and goes
   * to the primary if either reading needs it (a reading the server could not even scan raises its error
   * wherever it runs, and is left out).
   */
  analyze(text: string): Classification {
    const standard = this.#analyze(text, false)
    if (!this.#scanner.backslashInPlain || standard.target === 'primary') return standard
    const escaped = this.#analyze(text, true)
    return escaped.target === 'primary' && escaped.reason !== 'unparseable' ? escaped : standard
  }

  /**
   * Whether `sql`, the text a function runs (query_to_xml's query, …), is a plain read. Hints in it are no
   * hints: they are not the statement's own comments. Nested too deep, it is no read.
   */
  #isRead(sql: string): boolean {
    if (this.#level >= 3) return false
    this.#inner ??= new TextAnalyzer(this.#functions, this.#level + 1)
    const { target, reason } = this.#inner.analyze(sql)
    return target === 'replica' && reason === 'read'
  }

  #analyze(text: string, escapeInPlain: boolean): Classification {
    const scanner = this.#scanner
    const statement = this.#statement
    scanner.reset(text, escapeInPlain)
    statement.begin()
    this.#statements = 0
    this.#anyPrimary = false
    this.#transaction = TXN_NONE
    this.#readOnlyOpen = false
    this.#hints = 0
    for (let kind = scanner.next(); kind !== TOKEN_END; kind = scanner.next()) {
      if (kind === TOKEN_SEMICOLON && statement.depth === 0 && statement.blockDepth === 0)
        this.#endStatement()
      else statement.push(kind)
    }
    this.#endStatement()
    return this.#result()
  }

  #endStatement(): void {
    // Hints seen since the last statement ended belong to this one (a comment after `;` starts the next); after
    // the last statement they belong to none. Texts run by functions have no hints.
    const hints = this.#level === 0 ? this.#scanner.hints : 0
    this.#scanner.hints = 0
    if (!this.#statement.finish()) return
    this.#hints |= hints
    const { transaction, readOnlyCompatible } = this.#statement.outcome
    let primary = this.#statement.outcome.primary
    if (hints & HINT_REPLICA) primary = false
    if (transaction === TXN_END) {
      if (this.#readOnlyOpen && readOnlyCompatible) primary = false
      this.#readOnlyOpen = false
    } else if (transaction !== TXN_NONE) this.#readOnlyOpen = transaction === TXN_BEGIN_READ_ONLY
    else if (readOnlyCompatible && this.#readOnlyOpen) primary = false
    if (transaction !== TXN_NONE) this.#transaction = transaction
    if (++this.#statements === 1) {
      this.#firstPrimary = primary
      this.#firstReason = this.#statement.outcome.reason
    }
    if (primary) this.#anyPrimary = true
  }

  #result(): Classification {
    let primary: boolean
    let reason: ClassificationReason
    let transaction = this.#transaction
    if (this.#scanner.unterminated || this.#statement.unbalanced || this.#statement.depth !== 0) {
      primary = true
      reason = 'unparseable'
      transaction = TXN_NONE
    } else if (this.#statements === 0) {
      primary = true
      reason = 'empty'
    } else if (this.#statements === 1) {
      primary = this.#firstPrimary
      reason = this.#firstReason
    } else {
      primary = this.#anyPrimary
      reason = primary ? 'multi-statement-write' : 'read'
    }
    // A replica hint covers the statement it is written in (with one statement, the whole text): a hinted
    // statement may run on a replica, the others of the text still decide for themselves.
    const hints = this.#hints
    if (hints & HINT_PRIMARY) {
      primary = true
      reason = 'hint:primary'
    } else if (hints & HINT_REPLICA && (this.#statements <= 1 || !primary)) {
      primary = false
      reason = 'hint:replica'
    }
    const target = primary ? 'primary' : 'replica'
    const name = TRANSACTIONS[transaction]
    return Object.freeze(name === undefined ? { target, reason } : { target, reason, transaction: name })
  }
}
