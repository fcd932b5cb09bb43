import type { Classification } from './classification.js'
import type { FunctionMatcher } from './function-matcher.js'
import * as K from './sql-keywords.js'
import {
  HINT_PRIMARY,
  HINT_REPLICA,
  SqlScanner,
  TOKEN_COMMA,
  TOKEN_DOT,
  TOKEN_END,
  TOKEN_LPAREN,
  TOKEN_NUMBER,
  TOKEN_QUOTED_IDENT,
  TOKEN_RPAREN,
  TOKEN_SEMICOLON,
  TOKEN_STRING,
  TOKEN_WORD,
} from './sql-scanner.js'
import { STATEMENT_KINDS } from './statement-kinds.js'

/*
 * One pass over the tokens of a text. Each statement runs through a small state machine (its phase) that
 * reacts to keyword codes and to the two previous token codes (p1, p2); it never looks ahead. Keyword codes
 * and token kinds share one number space: kinds are below K.KW_MIN.
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

const TXN_NONE = 0
const TXN_BEGIN = 1
const TXN_BEGIN_READ_ONLY = 2
const TXN_END = 3
const TRANSACTIONS = [undefined, 'begin', 'begin-read-only', 'end'] as const

const EXPLAIN_NONE = 0
const EXPLAIN_PLAIN = 1
const EXPLAIN_ANALYZE = 2

/** Words, quoted identifiers and keywords can all name things (a keyword names something after `.`). */
function isName(code: number): boolean {
  return code === TOKEN_WORD || code === TOKEN_QUOTED_IDENT || code >= K.KW_MIN
}

function isDml(code: number): boolean {
  return code === K.KW_INSERT || code === K.KW_UPDATE || code === K.KW_DELETE || code === K.KW_MERGE
}

/** Whether the token after INSERT / DELETE / MERGE / UPDATE makes it a data-modifying statement. */
function continuesDml(dml: number, code: number): boolean {
  if (dml === K.KW_INSERT || dml === K.KW_MERGE) return code === K.KW_INTO
  if (dml === K.KW_DELETE) return code === K.KW_FROM
  // UPDATE [ONLY] table: a table name cannot be a reserved word.
  return (
    code === TOKEN_WORD ||
    code === TOKEN_QUOTED_IDENT ||
    code === K.KW_ONLY ||
    (code >= K.KW_MIN && code < K.KW_RESERVED_MIN)
  )
}

/** Classifies whole SQL texts. Holds per-text state, so one instance serves one caller at a time. */
export class StatementAnalyzer {
  private readonly scanner = new SqlScanner()
  private readonly functions: FunctionMatcher
  private text = ''

  // Per text.
  private depth = 0
  private unbalanced = false
  private statements = 0
  private anyPrimary = false
  private firstPrimary = false
  private firstReason = ''
  private transaction = TXN_NONE
  /** A READ ONLY transaction begun earlier in this text is still open: its COMMIT and savepoints can follow it. */
  private readOnlyOpen = false

  // Per statement.
  private tokens = 0
  private phase = PHASE_START
  private primary = false
  private reason = ''
  private stmtTransaction = TXN_NONE
  /** SAVEPOINT, RELEASE, ROLLBACK TO, COMMIT AND CHAIN: fine inside a read-only transaction on a replica. */
  private readOnlyCompatible = false
  /** Parser depth the (inner) statement starts at: 1 inside COPY (…). */
  private baseDepth = 0
  private nested = false
  private explain = EXPLAIN_NONE
  private optionDepth = 0
  private expectOptionName = false
  private optionIsAnalyze = false
  private withQuery = false
  /** The main SELECT / VALUES / TABLE of the statement was seen (WITH queries start without it). */
  private mainSeen = false
  private pendingDml = 0
  private pendingDmlDepth = 0
  private readOnly = false
  private serializable = false
  private temporary = false
  private blockDepth = 0
  private p1 = 0
  private p2 = 0
  // The last name token and the one before a dot, for function calls.
  private nameStart = 0
  private nameEnd = 0
  private nameQuoted = false
  private nameHash = 0
  private qualifierStart = -1
  private qualifierEnd = 0
  private qualifierQuoted = false

  constructor(functions: FunctionMatcher) {
    this.functions = functions
  }

  analyze(text: string): Classification {
    const scanner = this.scanner
    scanner.reset(text)
    this.text = text
    this.depth = 0
    this.unbalanced = false
    this.statements = 0
    this.anyPrimary = false
    this.transaction = TXN_NONE
    this.readOnlyOpen = false
    this.resetStatement()
    for (;;) {
      const kind = scanner.next()
      if (kind === TOKEN_END) break
      if (kind === TOKEN_SEMICOLON && this.depth === 0 && this.blockDepth === 0) {
        this.finishStatement()
        continue
      }
      let code = kind
      if (kind === TOKEN_WORD) {
        // After `.` or AS a keyword is just a name (t.update, AS update).
        if (this.p1 !== TOKEN_DOT && this.p1 !== K.KW_AS) {
          code = K.keywordCode(text, scanner.start, scanner.end, scanner.hash, TOKEN_WORD)
        }
      } else if (kind === TOKEN_LPAREN) this.depth++
      else if (kind === TOKEN_RPAREN && --this.depth < 0) {
        this.unbalanced = true
        this.depth = 0
      }
      this.tokens++
      this.onToken(kind, code)
      this.p2 = this.p1
      this.p1 = code
    }
    this.finishStatement()
    return this.result()
  }

  private onToken(kind: number, code: number): void {
    switch (this.phase) {
      case PHASE_START:
        this.onStart(code)
        break
      case PHASE_QUERY:
        this.onQuery(kind, code)
        break
      case PHASE_EXPLAIN:
        this.onExplain(code)
        break
      case PHASE_EXPLAIN_OPTIONS:
        this.onExplainOption(kind, code)
        break
      case PHASE_COPY:
        this.onCopy(code)
        break
      case PHASE_COPY_TO:
        if (code === K.KW_STDOUT) this.phase = PHASE_REST
        else this.settle(true, 'copy-to-file')
        break
      case PHASE_BEGIN:
        if (code === K.KW_ONLY && this.p1 === K.KW_READ) this.readOnly = true
        else if (code === K.KW_WRITE && this.p1 === K.KW_READ) this.readOnly = false
        else if (code === K.KW_SERIALIZABLE) this.serializable = true
        break
      case PHASE_END:
        // ROLLBACK TO SAVEPOINT and COMMIT AND CHAIN leave a transaction open; COMMIT PREPARED is two-phase.
        if (code === K.KW_TO || (code === K.KW_CHAIN && this.p1 === K.KW_AND) || code === K.KW_PREPARED) {
          this.stmtTransaction = TXN_NONE
          this.readOnlyCompatible = code !== K.KW_PREPARED
          this.reason = 'transaction-control'
        }
        break
      case PHASE_PREPARE:
        if (code === K.KW_TRANSACTION) this.reason = 'transaction-control'
        this.phase = PHASE_REST
        break
      case PHASE_CREATE:
        this.onCreate(code)
        break
      case PHASE_CREATE_BODY:
        if (code === K.KW_ATOMIC && this.p1 === K.KW_BEGIN) this.blockDepth++
        else if (this.blockDepth > 0 && code === K.KW_CASE) this.blockDepth++
        else if (this.blockDepth > 0 && code === K.KW_END) this.blockDepth--
        break
    }
  }

  private onStart(code: number): void {
    switch (code) {
      case TOKEN_LPAREN:
        return // a parenthesised query: (SELECT …) UNION (SELECT …)
      case K.KW_SELECT:
      case K.KW_VALUES:
      case K.KW_TABLE:
        this.beginQuery(false)
        return
      case K.KW_WITH:
        this.beginQuery(true)
        return
    }
    if (this.nested) {
      // The statement inside EXPLAIN or COPY (…).
      if (code === K.KW_EXECUTE) this.settle(true, 'session-state')
      else this.settle(true, isDml(code) || code === K.KW_CREATE ? 'write' : 'unknown')
      return
    }
    switch (code) {
      case K.KW_EXPLAIN:
        this.explain = EXPLAIN_PLAIN
        this.nested = true
        this.phase = PHASE_EXPLAIN
        return
      case K.KW_COPY:
        this.primary = false
        this.reason = 'read'
        this.phase = PHASE_COPY
        return
      case K.KW_BEGIN:
      case K.KW_START:
        this.stmtTransaction = TXN_BEGIN
        this.reason = 'transaction-begin'
        this.phase = PHASE_BEGIN
        return
      case K.KW_COMMIT:
      case K.KW_END:
      case K.KW_ROLLBACK:
      case K.KW_ABORT:
        this.stmtTransaction = TXN_END
        this.readOnlyCompatible = true
        this.reason = 'transaction-end'
        this.phase = PHASE_END
        return
      case K.KW_SAVEPOINT:
      case K.KW_RELEASE:
        this.readOnlyCompatible = true
        this.settle(true, 'transaction-control')
        return
      case K.KW_PREPARE:
        this.reason = 'session-state'
        this.phase = PHASE_PREPARE
        return
      case K.KW_CREATE:
        this.reason = 'write'
        this.phase = PHASE_CREATE
        return
    }
    const kind = STATEMENT_KINDS.get(code)
    if (kind !== undefined) this.settle(kind.primary, kind.reason)
    else this.settle(true, 'unknown')
  }

  private beginQuery(withQuery: boolean): void {
    this.primary = false
    this.reason = 'read'
    this.withQuery = withQuery
    this.mainSeen = !withQuery
    this.phase = PHASE_QUERY
  }

  private onQuery(kind: number, code: number): void {
    const dml = this.pendingDml
    if (dml !== 0) {
      this.pendingDml = 0
      if (continuesDml(dml, code)) {
        this.settle(
          true,
          this.withQuery && this.pendingDmlDepth === this.baseDepth ? 'write' : 'writable-cte',
        )
        return
      }
    }
    if (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT) this.trackName(kind)
    switch (code) {
      case TOKEN_LPAREN:
        if (isName(this.p1) && this.p2 !== K.KW_AS) this.onCall()
        break
      case TOKEN_RPAREN:
        // Only COPY (…) starts a query below depth 0: its closing parenthesis hands back to COPY.
        if (this.depth < this.baseDepth) {
          this.baseDepth = 0
          this.phase = PHASE_COPY
        }
        break
      case K.KW_SELECT:
      case K.KW_VALUES:
      case K.KW_TABLE:
        if (this.depth === this.baseDepth) this.mainSeen = true
        break
      case K.KW_SHARE:
        if (this.p1 === K.KW_FOR || this.p1 === K.KW_KEY) this.settle(true, 'locking-read')
        break
      case K.KW_INTO:
        // INSERT INTO and MERGE INTO were taken as writes above; any other INTO creates a table.
        this.settle(true, 'select-into')
        break
      case K.KW_UPDATE:
        if (this.p1 === K.KW_FOR || this.p1 === K.KW_KEY) this.settle(true, 'locking-read')
        else this.onDml(code)
        break
      case K.KW_INSERT:
      case K.KW_DELETE:
      case K.KW_MERGE:
        this.onDml(code)
        break
    }
  }

  /**
   * A data-modifying statement opens a CTE body (`(DELETE`), follows a CTE list (`) UPDATE`), or follows a
   * SEARCH / CYCLE clause as the main statement of WITH. Elsewhere these words are column names or aliases.
   * The next token decides (INSERT INTO, DELETE FROM, MERGE INTO, UPDATE table).
   */
  private onDml(code: number): void {
    const p1 = this.p1
    if (
      p1 === TOKEN_LPAREN ||
      p1 === TOKEN_RPAREN ||
      (this.withQuery && !this.mainSeen && this.depth === this.baseDepth)
    ) {
      this.pendingDml = code
      this.pendingDmlDepth = this.depth
    }
  }

  /** Remembers the last name and the name before a dot: `schema.func(`. */
  private trackName(kind: number): void {
    if (this.p1 === TOKEN_DOT && isName(this.p2)) {
      this.qualifierStart = this.nameStart
      this.qualifierEnd = this.nameEnd
      this.qualifierQuoted = this.nameQuoted
    } else this.qualifierStart = -1
    const scanner = this.scanner
    this.nameStart = scanner.start
    this.nameEnd = scanner.end
    this.nameQuoted = kind === TOKEN_QUOTED_IDENT
    this.nameHash = scanner.hash
  }

  /** The name before `(` is a function call (`AS name (` would be a column alias list). */
  private onCall(): void {
    const reason = this.functions.match(
      this.text,
      this.nameStart,
      this.nameEnd,
      this.nameQuoted,
      this.nameHash,
      this.qualifierStart,
      this.qualifierEnd,
      this.qualifierQuoted,
    )
    if (reason !== undefined) this.settle(true, reason)
  }

  private onExplain(code: number): void {
    if (code === TOKEN_LPAREN && this.p1 === K.KW_EXPLAIN) {
      this.phase = PHASE_EXPLAIN_OPTIONS
      this.optionDepth = this.depth
      this.expectOptionName = true
    } else if (code === K.KW_ANALYZE || code === K.KW_ANALYSE) this.explain = EXPLAIN_ANALYZE
    else if (code !== K.KW_VERBOSE) {
      this.phase = PHASE_START
      this.onStart(code)
    }
  }

  private onExplainOption(kind: number, code: number): void {
    if (this.depth < this.optionDepth) {
      this.phase = PHASE_START
      return
    }
    if (this.depth !== this.optionDepth) return
    if (code === TOKEN_COMMA) {
      this.expectOptionName = true
      this.optionIsAnalyze = false
    } else if (this.expectOptionName) {
      this.expectOptionName = false
      this.optionIsAnalyze = code === K.KW_ANALYZE || code === K.KW_ANALYSE
      if (this.optionIsAnalyze) this.explain = EXPLAIN_ANALYZE
    } else if (this.optionIsAnalyze) {
      this.explain = this.isFalse(kind, code) ? EXPLAIN_PLAIN : EXPLAIN_ANALYZE
    }
  }

  /** A boolean option value meaning false: FALSE, OFF, 0, 'false', 'off'. */
  private isFalse(kind: number, code: number): boolean {
    if (code === K.KW_FALSE || code === K.KW_OFF) return true
    const { start, end } = this.scanner
    if (kind === TOKEN_NUMBER) return end - start === 1 && this.text.charCodeAt(start) === 48
    if (kind !== TOKEN_STRING || this.text.charCodeAt(start) !== 39) return false
    const value = this.text.slice(start + 1, end - 1).toLowerCase()
    return value === 'false' || value === 'off'
  }

  private onCopy(code: number): void {
    if (code === TOKEN_LPAREN && this.p1 === K.KW_COPY) {
      this.nested = true
      this.baseDepth = this.depth
      this.phase = PHASE_START
    } else if (this.depth === 0) {
      // Other parentheses hold a column list or options.
      if (code === K.KW_FROM) this.settle(true, 'write')
      else if (code === K.KW_TO) this.phase = PHASE_COPY_TO
    }
  }

  private onCreate(code: number): void {
    switch (code) {
      case K.KW_OR:
      case K.KW_REPLACE:
      case K.KW_GLOBAL:
      case K.KW_LOCAL:
        return
      case K.KW_TEMP:
      case K.KW_TEMPORARY:
        this.temporary = true
        return
    }
    if (this.temporary) this.reason = 'session-state'
    this.phase = PHASE_CREATE_BODY
  }

  private settle(primary: boolean, reason: string): void {
    this.primary = primary
    this.reason = reason
    this.phase = PHASE_REST
  }

  private finishStatement(): void {
    if (this.tokens === 0) return
    let primary = this.primary
    let reason = this.reason
    let transaction = this.stmtTransaction
    switch (this.phase) {
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
        if (this.readOnly) {
          // A hot standby refuses SERIALIZABLE, even read-only.
          if (this.serializable) reason = 'serializable'
          else {
            transaction = TXN_BEGIN_READ_ONLY
            primary = false
            reason = 'transaction-begin-read-only'
          }
        }
        break
      default:
        if (this.explain === EXPLAIN_PLAIN && reason !== 'session-state') {
          // Plain EXPLAIN only plans; it needs the primary only for a statement prepared there.
          primary = false
          reason = 'read'
        } else if (this.explain === EXPLAIN_ANALYZE && primary && reason !== 'session-state') {
          reason = 'explain-analyze-write'
        }
    }
    if (transaction === TXN_END) {
      if (this.readOnlyOpen) primary = false
      this.readOnlyOpen = false
    } else if (transaction !== TXN_NONE) this.readOnlyOpen = transaction === TXN_BEGIN_READ_ONLY
    else if (this.readOnlyCompatible && this.readOnlyOpen) primary = false
    if (transaction !== TXN_NONE) this.transaction = transaction
    if (++this.statements === 1) {
      this.firstPrimary = primary
      this.firstReason = reason
    }
    if (primary) this.anyPrimary = true
    this.resetStatement()
  }

  private resetStatement(): void {
    this.tokens = 0
    this.phase = PHASE_START
    this.primary = true
    this.reason = 'unknown'
    this.stmtTransaction = TXN_NONE
    this.readOnlyCompatible = false
    this.baseDepth = 0
    this.nested = false
    this.explain = EXPLAIN_NONE
    this.withQuery = false
    this.mainSeen = false
    this.pendingDml = 0
    this.readOnly = false
    this.serializable = false
    this.temporary = false
    this.blockDepth = 0
    this.p1 = 0
    this.p2 = 0
    this.qualifierStart = -1
  }

  private result(): Classification {
    let primary: boolean
    let reason: string
    let transaction = this.transaction
    if (this.scanner.unterminated || this.unbalanced || this.depth !== 0) {
      primary = true
      reason = 'unparseable'
      transaction = TXN_NONE
    } else if (this.statements === 0) {
      primary = true
      reason = 'empty'
    } else if (this.statements === 1) {
      primary = this.firstPrimary
      reason = this.firstReason
    } else {
      primary = this.anyPrimary
      reason = primary ? 'multi-statement-write' : 'read'
    }
    const hints = this.scanner.hints
    if (hints & HINT_PRIMARY) {
      primary = true
      reason = 'hint:primary'
    } else if (hints & HINT_REPLICA) {
      primary = false
      reason = 'hint:replica'
    }
    const target = primary ? 'primary' : 'replica'
    const txn = TRANSACTIONS[transaction]
    return Object.freeze(txn === undefined ? { target, reason } : { target, reason, transaction: txn })
  }
}
