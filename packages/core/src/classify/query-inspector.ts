import type { ClassificationReason } from './classification.js'
import type { FunctionMatcher } from './function-matcher.js'
import { identifierText } from './identifier-text.js'
import { hashToken, type NameToken, sameName } from './name-hash.js'
import * as K from './sql-keywords.js'
import {
  type SqlScanner,
  TOKEN_COMMA,
  TOKEN_DOT,
  TOKEN_LPAREN,
  TOKEN_NUMBER,
  TOKEN_OTHER,
  TOKEN_QUOTED_IDENT,
  TOKEN_RPAREN,
  TOKEN_STRING,
  TOKEN_WORD,
} from './sql-scanner.js'
import { type CallArgument, SQL_TEXT_FUNCTIONS, type SqlTextReader } from './sql-text-functions.js'
import { literalValue } from './string-literal.js'

/** Words, quoted identifiers and keywords can all name things (a keyword names something after `.`). */
function isName(code: number): boolean {
  return code === TOKEN_WORD || code === TOKEN_QUOTED_IDENT || code >= K.KW_MIN
}

/** Where a statement's token stream stands: the codes of the two previous tokens and the parenthesis depth. */
export interface TokenWindow {
  /** Keyword code or TOKEN_* kind of the previous token (0 at the start of a statement). */
  readonly p1: number
  /** The same, of the token before it. */
  readonly p2: number
  /** Parenthesis depth of the current token. */
  readonly depth: number
}

/** Whether a SQL text is a plain read (classified by a classifier of its own: see TextAnalyzer). */
export type ReadCheck = (sql: string) => boolean

// States of a pending UPDATE: `UPDATE [ONLY] [(] name [. name …] [)] [*] [[AS] alias] SET`.
const UPDATE_START = 1
const UPDATE_ONLY = 2
const UPDATE_PAREN = 3
const UPDATE_PAREN_NAME = 4
const UPDATE_PAREN_DOT = 5
const UPDATE_NAME = 6
const UPDATE_DOT = 7
const UPDATE_AFTER = 8
const UPDATE_AS = 9
const UPDATE_ALIAS = 10

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
  // The last name token and the one before it, for function calls (`schema.func(`): where they are in the text,
  // kept as numbers (a name is only read when a call follows it). Escape is the scanner's (a U&"…" name's).
  #nameStart = 0
  #nameEnd = 0
  #nameQuoted = false
  #nameEscape = -1
  /** The scanner's hash of the last name when it is a word (see name-hash.ts); -1 when it must be computed. */
  #nameHash = -1
  #previousStart = 0
  #previousEnd = 0
  #previousQuoted = false
  #previousEscape = -1
  /** The last name follows a dot after a name: the name before it qualifies it. */
  #qualified = false
  // The names of a call, as {@link FunctionMatcher} reads them.
  readonly #callName: NameToken = { text: '', start: 0, end: 0, quoted: false }
  readonly #callQualifier: NameToken = { text: '', start: 0, end: 0, quoted: false }
  // A call of a function that runs SQL text: its arguments as they are read.
  #sqlName = ''
  #sqlReader: SqlTextReader | undefined
  #sqlDepth = 0
  #sqlArgs: CallArgument[] = []
  #argTokens = 0
  #argKind = 0
  #argStart = 0
  #argEnd = 0
  #argEscape = -1
  /** The argument's tokens after its literal that spell a cast (`'…'::text`), 0 when none. */
  #argCast = 0

  constructor(scanner: SqlScanner, functions: FunctionMatcher, window: TokenWindow, isRead: ReadCheck) {
    this.#scanner = scanner
    this.#functions = functions
    this.#window = window
    this.#isRead = isRead
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
    this.#qualified = false
    this.#sqlReader = undefined
    // The keyword that starts the query is no name: `SELECT (` calls nothing.
    this.#nameStart = this.#nameEnd = 0
    this.#nameQuoted = false
    this.#nameEscape = -1
    this.#nameHash = -1
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
      this.#sqlReader === undefined
    ) {
      if (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT)
        this.#trackName(kind, this.#window.p1, this.#window.p2)
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
    if (this.#sqlReader !== undefined) {
      const reason = this.#readArgument(kind, code, depth)
      if (reason !== undefined) return reason
    }
    if (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT) this.#trackName(kind, p1, p2)
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
      isName(p1) &&
      (p2 === K.KW_WITH || p2 === K.KW_RECURSIVE || (p2 === TOKEN_COMMA && this.#inWithList(outer)))
    if (this.#inWithList(outer) && !cteName && p1 !== K.KW_AS && p1 !== K.KW_MATERIALIZED) {
      // Neither a CTE body nor a CTE's column list: the main statement of the list, in parentheses.
      this.#closeWith(outer)
    }
    if (!isName(p1) || p2 === K.KW_AS || cteName) return undefined
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
    const state = this.#updateState
    this.#updateState = 0
    let next = 0
    const name = K.isColumnName(code)
    switch (state) {
      case UPDATE_START:
        if (code === K.KW_ONLY) next = UPDATE_ONLY
        else if (name) next = UPDATE_NAME
        break
      case UPDATE_ONLY:
        if (code === TOKEN_LPAREN) next = UPDATE_PAREN
        else if (name) next = UPDATE_NAME
        break
      case UPDATE_PAREN:
        if (name) next = UPDATE_PAREN_NAME
        break
      case UPDATE_PAREN_NAME:
        if (code === TOKEN_DOT) next = UPDATE_PAREN_DOT
        else if (code === TOKEN_RPAREN) next = UPDATE_AFTER
        break
      case UPDATE_PAREN_DOT:
        if (isName(code)) next = UPDATE_PAREN_NAME
        break
      case UPDATE_NAME:
        if (code === K.KW_SET) return true
        if (code === TOKEN_DOT) next = UPDATE_DOT
        else if (code === TOKEN_OTHER && this.#scanner.text.charCodeAt(this.#scanner.start) === 42)
          next = UPDATE_AFTER // `table *`
        else if (code === K.KW_AS) next = UPDATE_AS
        else if (name) next = UPDATE_ALIAS
        break
      case UPDATE_DOT:
        if (isName(code)) next = UPDATE_NAME
        break
      case UPDATE_AFTER:
        if (code === K.KW_SET) return true
        if (code === K.KW_AS) next = UPDATE_AS
        else if (name) next = UPDATE_ALIAS
        break
      case UPDATE_AS:
        if (isName(code)) next = UPDATE_ALIAS
        break
      case UPDATE_ALIAS:
        return code === K.KW_SET
    }
    this.#updateState = next
    return false
  }

  /** Remembers the last name and the name before a dot: `schema.func(`. */
  #trackName(kind: number, p1: number, p2: number): void {
    this.#qualified = p1 === TOKEN_DOT && isName(p2)
    this.#previousStart = this.#nameStart
    this.#previousEnd = this.#nameEnd
    this.#previousQuoted = this.#nameQuoted
    this.#previousEscape = this.#nameEscape
    const scanner = this.#scanner
    this.#nameStart = scanner.start
    this.#nameEnd = scanner.end
    this.#nameQuoted = kind === TOKEN_QUOTED_IDENT
    this.#nameEscape = scanner.escape
    this.#nameHash = kind === TOKEN_WORD ? scanner.hash : -1
  }

  /** Sets `token` to the name token `text[start, end)`. */
  #nameToken(token: NameToken, start: number, end: number, quoted: boolean, escape: number): NameToken {
    const text = this.#scanner.text
    if (escape < 0) {
      token.text = text
      token.start = start
      token.end = end
    } else {
      // A U&"…" name: its escapes hide the letters, so it is matched by the name it decodes to.
      token.text = `"${identifierText(text, start, escape).replaceAll('"', '""')}"`
      token.start = 0
      token.end = token.text.length
    }
    token.quoted = quoted
    return token
  }

  #call(depth: number): ClassificationReason | undefined {
    const name = this.#nameToken(
      this.#callName,
      this.#nameStart,
      this.#nameEnd,
      this.#nameQuoted,
      this.#nameEscape,
    )
    const qualifier = this.#qualified
      ? this.#nameToken(
          this.#callQualifier,
          this.#previousStart,
          this.#previousEnd,
          this.#previousQuoted,
          this.#previousEscape,
        )
      : undefined
    // A word's hash is the scanner's; a quoted name is hashed by its content.
    const hash = this.#nameHash >= 0 ? this.#nameHash : hashToken(name)
    const reason = this.#functions.match(name, hash, qualifier)
    if (reason !== undefined || this.#sqlReader !== undefined) return reason
    const entry = SQL_TEXT_FUNCTIONS.get(hash)
    if (entry === undefined || !sameName(name, entry[0])) return undefined
    // Read its arguments as they come (allocates: such calls are rare).
    this.#sqlName = entry[0]
    this.#sqlReader = entry[1]
    this.#sqlDepth = depth
    this.#sqlArgs = []
    this.#argTokens = 0
    return undefined
  }

  /** Takes a token of the arguments of a SQL-text function; returns a reason once the call needs the primary. */
  #readArgument(kind: number, code: number, depth: number): ClassificationReason | undefined {
    if (depth >= this.#sqlDepth && !(depth === this.#sqlDepth && code === TOKEN_COMMA)) {
      const tokens = ++this.#argTokens
      if (tokens === 1) {
        const scanner = this.#scanner
        this.#argCast = 1
        this.#argKind = kind
        this.#argStart = scanner.start
        this.#argEnd = scanner.end
        this.#argEscape = scanner.escape
      } else if (this.#argKind === TOKEN_STRING && this.#castsLiteral(tokens, kind)) this.#argCast = tokens
      return undefined
    }
    if (this.#argTokens > 0 || code === TOKEN_COMMA) this.#endArgument()
    if (depth >= this.#sqlDepth) return undefined
    // The call's closing parenthesis.
    const reader = this.#sqlReader!
    this.#sqlReader = undefined
    const texts = reader(this.#sqlArgs)
    if (texts?.every((sql) => this.#isRead(sql))) return undefined
    return `volatile-function:${this.#sqlName}`
  }

  /** Whether token number `tokens` of a literal argument continues `::type` after it. */
  #castsLiteral(tokens: number, kind: number): boolean {
    if (this.#argCast !== tokens - 1) return false
    const scanner = this.#scanner
    if (tokens <= 3) return kind === TOKEN_OTHER && scanner.text.charCodeAt(scanner.start) === 58
    return tokens === 4 && (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT)
  }

  #endArgument(): void {
    const scanner = this.#scanner
    let text: string | undefined
    // A literal, or a literal cast to a type: the function reads text either way.
    const single = this.#argTokens === 1 || (this.#argCast === 4 && this.#argTokens === 4)
    if (single && this.#argKind === TOKEN_STRING) {
      text = literalValue(scanner.text, this.#argStart, this.#argEnd, scanner.escapeInPlain, this.#argEscape)
    }
    this.#sqlArgs.push({ text, numeric: this.#argTokens === 1 && this.#argKind === TOKEN_NUMBER })
    this.#argTokens = 0
  }
}
