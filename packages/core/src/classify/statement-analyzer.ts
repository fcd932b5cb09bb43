import type { ClassificationReason } from './classification.js'
import { ExplainOptionList } from './explain-options.js'
import type { FunctionMatcher } from './function-matcher.js'
import { QueryInspector, type TokenWindow } from './query-inspector.js'
import * as K from './sql-keywords.js'
import type { SqlScanner } from './sql-scanner.js'
import type { ReadCheck } from './sql-text-call.js'
import { TOKEN_LPAREN, TOKEN_RPAREN } from './sql-tokens.js'
import { nestedStatementReason, STATEMENT_KINDS } from './statement-kinds.js'
import type { StatementOutcome } from './statement-outcome.js'
import { TXN_BEGIN, TXN_BEGIN_READ_ONLY, TXN_END, TXN_NONE } from './statement-outcome.js'
import { TransactionModes } from './transaction-modes.js'

/*
 * The state machine one statement runs through, fed one token at a time by TextAnalyzer. Its phase reacts to
 * keyword codes and to the two previous token codes (p1, p2); it never looks ahead. Keyword codes and token
 * kinds share one number space: kinds are below K.KW_MIN.
 */

/** Expecting the first keyword of a statement (or of the statement inside EXPLAIN or COPY (…)). */
const PHASE_START = 0
/** Inside SELECT / WITH / VALUES / TABLE: watching for writes hidden in a query. */
const PHASE_QUERY = 1
/** After EXPLAIN: legacy options or the option list. */
const PHASE_EXPLAIN = 2
const PHASE_EXPLAIN_OPTIONS = 3
/** After COPY (or after its parenthesised query): waiting for TO or FROM. */
const PHASE_COPY = 4
/** After COPY … TO: STDOUT or a server file / program. */
const PHASE_COPY_TO = 5
/** BEGIN / START TRANSACTION modes. */
const PHASE_BEGIN = 6
/** COMMIT / ROLLBACK / END / ABORT modifiers. */
const PHASE_END = 7
const PHASE_PREPARE = 8
/** After CREATE: TEMP or not. */
const PHASE_CREATE = 9
/** The rest of a CREATE: only BEGIN ATOMIC … END blocks matter, whose semicolons do not end the statement. */
const PHASE_CREATE_BODY = 10
/** Decided: only parentheses and the statement end matter. */
const PHASE_REST = 11

const EXPLAIN_NONE = 0
const EXPLAIN_PLAIN = 1
const EXPLAIN_ANALYZE = 2

/** Classifies one statement at a time; {@link StatementAnalyzer.finish} publishes the outcome. Not reentrant. */
export class StatementAnalyzer implements TokenWindow {
  /** The outcome of the last finished statement. */
  readonly outcome: StatementOutcome = {
    primary: true,
    reason: 'unknown',
    transaction: TXN_NONE,
    readOnlyCompatible: false,
  }
  /** A `)` came without its `(` somewhere in the text. */
  unbalanced = false
  /** Parenthesis depth; 0 between statements of a well-formed text. */
  depth = 0
  /** Depth of BEGIN ATOMIC … END blocks, whose semicolons do not end a statement. */
  blockDepth = 0
  /** Keyword code or TOKEN_* kind of the previous token of the statement (0 before its first). */
  p1 = 0
  /** The same, of the token before it. */
  p2 = 0

  readonly #scanner: SqlScanner
  readonly #query: QueryInspector
  #tokens = 0
  #primary = true
  #reason: ClassificationReason = 'unknown'
  #transaction = TXN_NONE
  #readOnlyCompatible = false
  #phase = PHASE_START
  /** Parser depth the (inner) statement starts at: 1 inside COPY (…). */
  #baseDepth = 0
  /** Classifying the statement inside EXPLAIN or COPY (…). */
  #nested = false
  #explain = EXPLAIN_NONE
  readonly #explainOptions = new ExplainOptionList()
  readonly #modes = new TransactionModes()
  #temporary = false

  /** `isRead` judges the SQL text given to functions that run it (see QueryInspector). */
  constructor(scanner: SqlScanner, functions: FunctionMatcher, isRead: ReadCheck) {
    this.#scanner = scanner
    this.#query = new QueryInspector(scanner, functions, this, isRead)
  }

  /** Starts on a new text (the scanner's, just reset). */
  begin(): void {
    this.depth = 0
    this.unbalanced = false
    this.#reset()
  }

  /** Takes the scanner's current token, of TOKEN_* `kind`. */
  push(kind: number): void {
    const code = K.tokenCode(this.#scanner, kind, this.p1)
    if (kind === TOKEN_LPAREN) this.depth++
    else if (kind === TOKEN_RPAREN && --this.depth < 0) {
      this.unbalanced = true
      this.depth = 0
    }
    this.#tokens++
    // Most tokens of a text are those of a query: the direct call spares them the phase switch.
    if (this.#phase === PHASE_QUERY) this.#onQuery(kind, code)
    else this.#onToken(kind, code)
    this.p2 = this.p1
    this.p1 = code
  }

  #onToken(kind: number, code: number): void {
    switch (this.#phase) {
      case PHASE_START:
        this.#onStart(code)
        break
      case PHASE_QUERY:
        this.#onQuery(kind, code)
        break
      case PHASE_EXPLAIN:
        this.#onExplain(code)
        break
      case PHASE_EXPLAIN_OPTIONS:
        if (!this.#explainOptions.push(this.#scanner, kind, code, this.depth)) {
          this.#explain = this.#explainOptions.analyze ? EXPLAIN_ANALYZE : EXPLAIN_PLAIN
          this.#phase = PHASE_START
        }
        break
      case PHASE_COPY:
        this.#onCopy(code)
        break
      case PHASE_COPY_TO:
        // The grammar takes STDIN after TO too, and then copies to the client just the same.
        if (code === K.KW_STDOUT || code === K.KW_STDIN) this.#phase = PHASE_REST
        else this.#settle(true, 'copy-to-file')
        break
      case PHASE_BEGIN:
        this.#modes.push(code, this.p1)
        break
      case PHASE_END:
        // ROLLBACK TO SAVEPOINT and COMMIT AND CHAIN leave a transaction open; COMMIT PREPARED is two-phase.
        if (code === K.KW_TO || (code === K.KW_CHAIN && this.p1 === K.KW_AND) || code === K.KW_PREPARED) {
          this.#transaction = TXN_NONE
          this.#readOnlyCompatible = code !== K.KW_PREPARED
          this.#reason = 'transaction-control'
        }
        break
      case PHASE_PREPARE:
        if (code === K.KW_TRANSACTION) {
          // The session's transaction is handed over to two-phase commit: the session has none after it.
          this.#reason = 'transaction-control'
          this.#transaction = TXN_END
        }
        this.#phase = PHASE_REST
        break
      case PHASE_CREATE:
        this.#onCreate(code)
        break
      case PHASE_CREATE_BODY:
        if (code === K.KW_ATOMIC && this.p1 === K.KW_BEGIN) this.blockDepth++
        else if (this.blockDepth > 0 && code === K.KW_CASE) this.blockDepth++
        else if (this.blockDepth > 0 && code === K.KW_END) this.blockDepth--
        break
    }
  }

  #onStart(code: number): void {
    switch (code) {
      case TOKEN_LPAREN:
        return // a parenthesised query: (SELECT …) UNION (SELECT …)
      case K.KW_SELECT:
      case K.KW_VALUES:
      case K.KW_TABLE:
        this.#beginQuery(false)
        return
      case K.KW_WITH:
        this.#beginQuery(true)
        return
    }
    if (this.#nested) {
      this.#settle(true, nestedStatementReason(code))
      return
    }
    switch (code) {
      case K.KW_EXPLAIN:
        this.#explain = EXPLAIN_PLAIN
        this.#nested = true
        this.#phase = PHASE_EXPLAIN
        return
      case K.KW_COPY:
        this.#primary = false
        this.#reason = 'read'
        this.#phase = PHASE_COPY
        return
      case K.KW_BEGIN:
      case K.KW_START:
        this.#transaction = TXN_BEGIN
        this.#reason = 'transaction-begin'
        this.#modes.reset()
        this.#phase = PHASE_BEGIN
        return
      case K.KW_COMMIT:
      case K.KW_END:
      case K.KW_ROLLBACK:
      case K.KW_ABORT:
        this.#transaction = TXN_END
        this.#readOnlyCompatible = true
        this.#reason = 'transaction-end'
        this.#phase = PHASE_END
        return
      case K.KW_SAVEPOINT:
      case K.KW_RELEASE:
        this.#readOnlyCompatible = true
        this.#settle(true, 'transaction-control')
        return
      case K.KW_PREPARE:
        this.#reason = 'session-state'
        this.#phase = PHASE_PREPARE
        return
      case K.KW_CREATE:
        this.#reason = 'write'
        this.#phase = PHASE_CREATE
        return
    }
    const kind = STATEMENT_KINDS.get(code)
    if (kind !== undefined) this.#settle(kind.primary, kind.reason)
    else this.#settle(true, 'unknown')
  }

  #beginQuery(withQuery: boolean): void {
    this.#primary = false
    this.#reason = 'read'
    this.#query.begin(withQuery, this.#baseDepth)
    this.#phase = PHASE_QUERY
  }

  #onQuery(kind: number, code: number): void {
    if (kind === TOKEN_RPAREN && this.depth < this.#baseDepth) {
      // Only COPY (…) starts a query below depth 0: its closing parenthesis hands back to COPY.
      this.#baseDepth = 0
      this.#phase = PHASE_COPY
      return
    }
    const reason = this.#query.inspect(kind, code)
    if (reason !== undefined) this.#settle(true, reason)
  }

  #onExplain(code: number): void {
    if (code === TOKEN_LPAREN && this.p1 === K.KW_EXPLAIN) {
      this.#phase = PHASE_EXPLAIN_OPTIONS
      this.#explainOptions.open(this.depth)
    } else if (code === K.KW_ANALYZE || code === K.KW_ANALYSE) this.#explain = EXPLAIN_ANALYZE
    else if (code !== K.KW_VERBOSE) {
      this.#phase = PHASE_START
      this.#onStart(code)
    }
  }

  #onCopy(code: number): void {
    if (code === TOKEN_LPAREN && this.p1 === K.KW_COPY) {
      this.#nested = true
      this.#baseDepth = this.depth
      this.#phase = PHASE_START
    } else if (this.depth === 0) {
      // Other parentheses hold a column list or options.
      if (code === K.KW_FROM) this.#settle(true, 'write')
      else if (code === K.KW_TO) this.#phase = PHASE_COPY_TO
    }
  }

  #onCreate(code: number): void {
    switch (code) {
      case K.KW_OR:
      case K.KW_REPLACE:
      case K.KW_GLOBAL:
      case K.KW_LOCAL:
        return
      case K.KW_TEMP:
      case K.KW_TEMPORARY:
        this.#temporary = true
        return
    }
    if (this.#temporary) this.#reason = 'session-state'
    this.#phase = PHASE_CREATE_BODY
  }

  #settle(primary: boolean, reason: ClassificationReason): void {
    this.#primary = primary
    this.#reason = reason
    this.#phase = PHASE_REST
  }

  /** Ends the current statement and publishes its {@link outcome}. False for an empty statement. */
  finish(): boolean {
    if (this.#tokens === 0) return false
    let primary = this.#primary
    let reason = this.#reason
    let transaction = this.#transaction
    switch (this.#phase) {
      case PHASE_START:
      case PHASE_EXPLAIN:
      case PHASE_EXPLAIN_OPTIONS:
      case PHASE_COPY:
      case PHASE_COPY_TO:
        // Ended before saying what it does.
        primary = true
        reason = 'unknown'
        break
      case PHASE_BEGIN:
        reason = this.#modes.reason()
        if (reason === 'transaction-begin-read-only') {
          transaction = TXN_BEGIN_READ_ONLY
          primary = false
        }
        break
      default:
        if (this.#explain === EXPLAIN_PLAIN && reason !== 'session-state') {
          // Plain EXPLAIN only plans; it needs the primary only for a statement prepared there.
          primary = false
          reason = 'read'
        } else if (this.#explain === EXPLAIN_ANALYZE && primary && reason !== 'session-state') {
          reason = 'explain-analyze-write'
        }
    }
    const outcome = this.outcome
    outcome.primary = primary
    outcome.reason = reason
    outcome.transaction = transaction
    outcome.readOnlyCompatible = this.#readOnlyCompatible
    this.#reset()
    return true
  }

  #reset(): void {
    this.#tokens = 0
    this.#phase = PHASE_START
    this.#primary = true
    this.#reason = 'unknown'
    this.#transaction = TXN_NONE
    this.#readOnlyCompatible = false
    this.#baseDepth = 0
    this.#nested = false
    this.#explain = EXPLAIN_NONE
    this.#temporary = false
    this.blockDepth = 0
    this.p1 = 0
    this.p2 = 0
  }
}
