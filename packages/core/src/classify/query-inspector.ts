import { CallNames } from './call-names.js'
import type { ClassificationReason } from './classification.js'
import type { FunctionMatcher } from './function-matcher.js'
import { sameName } from './name-hash.js'
import * as K from './sql-keywords.js'
import type { SqlScanner } from './sql-scanner.js'
import { type ReadCheck, SqlTextCall } from './sql-text-call.js'
import { sqlTextFunction } from './sql-text-functions.js'
import {
  TOKEN_COMMA,
  TOKEN_LPAREN,
  TOKEN_OTHER,
  TOKEN_QUOTED_IDENT,
  TOKEN_RPAREN,
  TOKEN_WORD,
} from './sql-tokens.js'
import { nextUpdateState, UPDATE_SET, UPDATE_START } from './update-spelling.js'

/** Where a statement's token stream stands: the codes of the two previous tokens and the parenthesis depth. */
export interface TokenWindow {
  /** Keyword code or TOKEN_* kind of the previous token (0 at the start of a statement). */
  readonly p1: number
  /** The same, of the token before it. */
  readonly p2: number
  /** Parenthesis depth of the current token. */
  readonly depth: number
}

/** The token codes {@link QueryInspector.inspect} reacts to, as 1s in a table indexed by code. */
const RELEVANT = new Uint8Array(K.KW_RESERVED + 1)
for (const code of [
  TOKEN_LPAREN,
  K.KW_WITH,
  K.KW_SELECT,
  K.KW_VALUES,
  K.KW_TABLE,
  K.KW_FROM,
  K.KW_WHERE,
  K.KW_GROUP,
  K.KW_HAVING,
  K.KW_WINDOW,
  K.KW_ORDER,
  K.KW_LIMIT,
  K.KW_OFFSET,
  K.KW_FETCH,
  K.KW_FOR,
  K.KW_UNION,
  K.KW_INTERSECT,
  K.KW_EXCEPT,
  K.KW_SHARE,
  K.KW_INTO,
  K.KW_UPDATE,
  K.KW_INSERT,
  K.KW_DELETE,
  K.KW_MERGE,
])
  RELEVANT[code] = 1

/** Bits of depth-indexed masks: deeper parentheses share the last bit, read conservatively. */
function bit(depth: number): number {
  return 1 << (depth > 30 ? 31 : depth)
}

/**
 * Finds what sends a query (SELECT, WITH, VALUES, TABLE) to the primary although it starts like a read: row
 * locks, data-modifying CTEs or a data-modifying main statement after WITH, SELECT INTO, calls of write
 * functions at any depth, and calls of functions that run SQL text which is no plain read. Fed one token at a
 * time; reads the two previous token codes and the depth from its {@link TokenWindow}.
 *
 * A data-modifying statement can only start where the grammar takes one: as a CTE body (`AS [[NOT]
 * MATERIALIZED] (`) or as the main statement after a WITH list. Anywhere else INSERT, UPDATE, DELETE and MERGE
 * are names, and so they are in those places too unless the tokens that follow spell the statement (INSERT
 * INTO, DELETE FROM, MERGE INTO, UPDATE table … SET).
 */
export class QueryInspector {
  readonly #scanner: SqlScanner
  readonly #functions: FunctionMatcher
  readonly #window: TokenWindow
  readonly #isRead: ReadCheck
  #baseDepth = 0
  #withQuery = false
  /** Depths of the WITH lists still open (their main statement not seen yet), innermost last. */
  readonly #withDepths = new Int32Array(16)
  #withCount = 0
  /** INSERT / UPDATE / DELETE / MERGE in a place where a data-modifying statement may start; 0 for none. */
  #pendingDml = 0
  #pendingDmlDepth = 0
  /** State of a pending UPDATE (UPDATE_*), 0 for none; it runs beside a pending INSERT, DELETE or MERGE. */
  #updateState = 0
  #updateDepth = 0
  /** Bit per depth: the parenthesis was opened by SUBSTRING( or OVERLAY(, whose FOR is no locking clause. */
  #forTakingParens = 0
  /** Bit per depth: a FROM clause runs at that depth (a name with a column list there is an alias). */
  #fromClauses = 0
  /** The names a call may follow. */
  readonly #names: CallNames
  /** A call of a function that runs SQL text, while its arguments are read. */
  #sqlCall: SqlTextCall | undefined

  constructor(scanner: SqlScanner, functions: FunctionMatcher, window: TokenWindow, isRead: ReadCheck) {
    this.#scanner = scanner
    this.#functions = functions
    this.#window = window
    this.#isRead = isRead
    this.#names = new CallNames(scanner)
  }

  /** Starts on a query of the scanned text that begins at parser depth `baseDepth`, with WITH when `withQuery`. */
  begin(withQuery: boolean, baseDepth: number): void {
    this.#baseDepth = baseDepth
    this.#withQuery = withQuery
    this.#withCount = 0
    if (withQuery) this.#withDepths[this.#withCount++] = baseDepth
    this.#pendingDml = 0
    this.#updateState = 0
    this.#forTakingParens = 0
    this.#fromClauses = 0
    this.#sqlCall = undefined
    this.#names.reset()
  }

  /**
   * Looks at the scanner's current token (TOKEN_* `kind`, keyword or kind `code`). Returns the reason the query
   * needs the primary, or undefined while it may be a read.
   */
  inspect(kind: number, code: number): ClassificationReason | undefined {
    // The common case, kept small enough to be inlined: a name, literal or operator while nothing is pending.
    if (
      kind !== TOKEN_RPAREN &&
      RELEVANT[code] !== 1 &&
      this.#pendingDml === 0 &&
      this.#updateState === 0 &&
      this.#sqlCall === undefined
    ) {
      if (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT)
        this.#names.track(kind, this.#window.p1, this.#window.p2)
      return undefined
    }
    return this.#inspect(kind, code)
  }

  #inspect(kind: number, code: number): ClassificationReason | undefined {
    const { p1, p2, depth } = this.#window
    if (kind === TOKEN_RPAREN) {
      // Lists and clauses of the depth just closed are over.
      while (this.#withCount > 0 && this.#withDepths[this.#withCount - 1]! > depth) this.#withCount--
      if (depth < 30) this.#fromClauses &= ~bit(depth + 1)
    }
    if (this.#pendingDml !== 0 && this.#continuesDml(code)) return this.#dmlReason(this.#pendingDmlDepth)
    if (this.#updateState !== 0 && this.#continuesUpdate(code)) return this.#dmlReason(this.#updateDepth)
    const call = this.#sqlCall
    if (call !== undefined && !call.take(this.#scanner, kind, code, depth)) {
      // The call's closing parenthesis.
      this.#sqlCall = undefined
      const reason = call.reason(this.#isRead)
      if (reason !== undefined) return reason
    }
    if (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT) this.#names.track(kind, p1, p2)
    // Most tokens are names, literals and operators: one array read passes them by.
    if (RELEVANT[code] !== 1) return undefined
    switch (code) {
      case TOKEN_LPAREN:
        return this.#openParen(p1, p2, depth)
      case K.KW_WITH:
        // A WITH list starts a query: in parentheses (a subquery or CTE body), never after other tokens.
        if (p1 === TOKEN_LPAREN && this.#withCount < this.#withDepths.length)
          this.#withDepths[this.#withCount++] = depth
        return undefined
      case K.KW_SELECT:
      case K.KW_VALUES:
      case K.KW_TABLE:
        this.#closeWith(depth)
        this.#fromClauses &= ~bit(depth)
        return undefined
      case K.KW_FROM:
        this.#fromClauses |= bit(depth)
        return undefined
      case K.KW_WHERE:
      case K.KW_GROUP:
      case K.KW_HAVING:
      case K.KW_WINDOW:
      case K.KW_ORDER:
      case K.KW_LIMIT:
      case K.KW_OFFSET:
      case K.KW_FETCH:
      case K.KW_FOR:
      case K.KW_UNION:
      case K.KW_INTERSECT:
      case K.KW_EXCEPT:
        this.#fromClauses &= ~bit(depth)
        return undefined
      case K.KW_SHARE:
        // FOR SHARE, FOR KEY SHARE.
        if (p1 === K.KW_FOR || (p1 === K.KW_KEY && p2 === K.KW_FOR)) return this.#lockingRead(depth)
        return undefined
      case K.KW_INTO:
        // INSERT INTO and MERGE INTO were taken as writes above; any other INTO creates a table.
        return 'select-into'
      case K.KW_UPDATE:
        // FOR UPDATE, FOR NO KEY UPDATE.
        if (p1 === K.KW_FOR || (p1 === K.KW_KEY && p2 === K.KW_NO)) {
          const reason = this.#lockingRead(depth)
          if (reason !== undefined) return reason
        }
        this.#dml(code, p1, p2, depth)
        return undefined
      case K.KW_INSERT:
      case K.KW_DELETE:
      case K.KW_MERGE:
        this.#dml(code, p1, p2, depth)
        return undefined
    }
    return undefined
  }

  /** FOR UPDATE / SHARE is a locking clause unless it is the FOR of SUBSTRING( … FOR n) or OVERLAY(…). */
  #lockingRead(depth: number): ClassificationReason | undefined {
    return depth > 0 && depth <= 30 && this.#forTakingParens & bit(depth) ? undefined : 'locking-read'
  }

  /** The WITH list at `depth` is over: its main statement starts. */
  #closeWith(depth: number): void {
    if (this.#withCount > 0 && this.#withDepths[this.#withCount - 1] === depth) this.#withCount--
  }

  /** The depth's WITH list is open: a CTE may still follow, or the main statement. */
  #inWithList(depth: number): boolean {
    return this.#withCount > 0 && this.#withDepths[this.#withCount - 1] === depth
  }

  #openParen(p1: number, p2: number, depth: number): ClassificationReason | undefined {
    const outer = depth - 1
    if (p1 === K.KW_SUBSTRING || p1 === K.KW_OVERLAY) this.#forTakingParens |= bit(depth)
    else if (depth <= 30) this.#forTakingParens &= ~bit(depth)
    if (depth <= 30) this.#fromClauses &= ~bit(depth)
    // `name (` after WITH [RECURSIVE] or after a comma of a WITH list names a CTE and its columns.
    const cteName =
      K.isName(p1) &&
      (p2 === K.KW_WITH || p2 === K.KW_RECURSIVE || (p2 === TOKEN_COMMA && this.#inWithList(outer)))
    if (this.#inWithList(outer) && !cteName && p1 !== K.KW_AS && p1 !== K.KW_MATERIALIZED) {
      // Neither a CTE body nor a CTE's column list: the main statement of the list, in parentheses.
      this.#closeWith(outer)
    }
    if (!K.isName(p1) || p2 === K.KW_AS || cteName) return undefined
    // `table alias (columns)` in a FROM clause: a name or `)` before the name makes it an alias.
    const alias = (p2 === TOKEN_WORD || p2 === TOKEN_QUOTED_IDENT || p2 === TOKEN_RPAREN) && outer <= 30
    if (alias && this.#fromClauses & bit(outer)) return undefined
    return this.#call(depth)
  }

  /**
   * A data-modifying statement may open a CTE body (`AS (DELETE`), or be the main statement of an open WITH list
   * at this depth. The tokens that follow decide (INSERT INTO, DELETE FROM, MERGE INTO, UPDATE table … SET).
   */
  #dml(code: number, p1: number, p2: number, depth: number): void {
    const cteBody = p1 === TOKEN_LPAREN && (p2 === K.KW_AS || p2 === K.KW_MATERIALIZED)
    if (!cteBody && !this.#inWithList(depth)) return
    if (code === K.KW_UPDATE) {
      // An UPDATE still being spelled out takes this one as its table name (`UPDATE update SET`).
      if (this.#updateState !== 0) return
      this.#updateState = UPDATE_START
      this.#updateDepth = depth
    } else {
      this.#pendingDml = code
      this.#pendingDmlDepth = depth
    }
  }

  #dmlReason(depth: number): ClassificationReason {
    return this.#withQuery && depth === this.#baseDepth ? 'write' : 'writable-cte'
  }

  /** Feeds a pending INSERT, DELETE or MERGE the next token: true when it spells the statement. */
  #continuesDml(code: number): boolean {
    const dml = this.#pendingDml
    this.#pendingDml = 0
    return code === (dml === K.KW_DELETE ? K.KW_FROM : K.KW_INTO)
  }

  /** Feeds a pending UPDATE the next token: true once `UPDATE table … SET` is spelled out. */
  #continuesUpdate(code: number): boolean {
    const scanner = this.#scanner
    const star = code === TOKEN_OTHER && scanner.text.charCodeAt(scanner.start) === 42
    const next = nextUpdateState(this.#updateState, code, star)
    this.#updateState = Math.max(next, 0)
    return next === UPDATE_SET
  }

  #call(depth: number): ClassificationReason | undefined {
    const names = this.#names
    const name = names.name()
    const hash = names.hash()
    const reason = this.#functions.match(name, hash, names.qualifier())
    if (reason !== undefined || this.#sqlCall !== undefined) return reason
    const entry = sqlTextFunction(hash)
    if (entry === undefined || !sameName(name, entry[0])) return undefined
    // Read its arguments as they come (allocates: such calls are rare).
    this.#sqlCall = new SqlTextCall(entry[0], entry[1], depth)
    return undefined
  }
}
