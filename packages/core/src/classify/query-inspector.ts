import type { ClassificationReason } from './classification.js'
import type { FunctionMatcher } from './function-matcher.js'
import { identifierText } from './identifier-text.js'
import type { NameToken } from './name-hash.js'
import * as K from './sql-keywords.js'
import {
  type SqlScanner,
  TOKEN_DOT,
  TOKEN_LPAREN,
  TOKEN_QUOTED_IDENT,
  TOKEN_RPAREN,
  TOKEN_WORD,
} from './sql-scanner.js'

/** Words, quoted identifiers and keywords can all name things (a keyword names something after `.`). */
function isName(code: number): boolean {
  return code === TOKEN_WORD || code === TOKEN_QUOTED_IDENT || code >= K.KW_MIN
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

/** Where a statement's token stream stands: the codes of the two previous tokens and the parenthesis depth. */
export interface TokenWindow {
  /** Keyword code or TOKEN_* kind of the previous token (0 at the start of a statement). */
  readonly p1: number
  /** The same, of the token before it. */
  readonly p2: number
  /** Parenthesis depth of the current token. */
  readonly depth: number
}

/**
 * Finds what sends a query (SELECT, WITH, VALUES, TABLE) to the primary although it starts like a read: row
 * locks, data-modifying CTEs or a data-modifying main statement after WITH, SELECT INTO, and calls of write
 * functions, at any depth. Fed one token at a time; reads the two previous token codes and the depth from its {@link TokenWindow}.
 */
export class QueryInspector {
  readonly #scanner: SqlScanner
  readonly #functions: FunctionMatcher
  readonly #window: TokenWindow
  #baseDepth = 0
  #withQuery = false
  /** The main SELECT / VALUES / TABLE was seen (a WITH query starts with its CTE list instead). */
  #mainSeen = false
  /** INSERT / UPDATE / DELETE / MERGE in a place where a data-modifying statement may start; 0 for none. */
  #pendingDml = 0
  #pendingDmlDepth = 0
  // The last name token and the one before it, for function calls: `schema.func(`.
  #name: NameToken = { text: '', start: 0, end: 0, quoted: false }
  #previous: NameToken = { text: '', start: 0, end: 0, quoted: false }
  #qualified = false

  constructor(scanner: SqlScanner, functions: FunctionMatcher, window: TokenWindow) {
    this.#scanner = scanner
    this.#functions = functions
    this.#window = window
  }

  /** Starts on a query of the scanned text that begins at parser depth `baseDepth`, with WITH when `withQuery`. */
  begin(withQuery: boolean, baseDepth: number): void {
    this.#baseDepth = baseDepth
    this.#withQuery = withQuery
    this.#mainSeen = !withQuery
    this.#pendingDml = 0
    this.#qualified = false
    // The keyword that starts the query is no name: `SELECT (` calls nothing.
    this.#name.text = ''
    this.#name.start = this.#name.end = 0
  }

  /**
   * Looks at the scanner's current token (TOKEN_* `kind`, keyword or kind `code`). Returns the reason the query
   * needs the primary, or undefined while it may be a read.
   */
  inspect(kind: number, code: number): ClassificationReason | undefined {
    const { p1, p2, depth } = this.#window
    const dml = this.#pendingDml
    if (dml !== 0) {
      this.#pendingDml = 0
      if (continuesDml(dml, code)) {
        return this.#withQuery && this.#pendingDmlDepth === this.#baseDepth ? 'write' : 'writable-cte'
      }
    }
    if (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT) this.#trackName(kind, p1, p2)
    switch (code) {
      case TOKEN_LPAREN:
        // `AS name (` is a column alias list, not a call.
        return isName(p1) && p2 !== K.KW_AS ? this.#call() : undefined
      case K.KW_SELECT:
      case K.KW_VALUES:
      case K.KW_TABLE:
        if (depth === this.#baseDepth) this.#mainSeen = true
        return undefined
      case K.KW_SHARE:
        return p1 === K.KW_FOR || p1 === K.KW_KEY ? 'locking-read' : undefined
      case K.KW_INTO:
        // INSERT INTO and MERGE INTO were taken as writes above; any other INTO creates a table.
        return 'select-into'
      case K.KW_UPDATE:
        if (p1 === K.KW_FOR || p1 === K.KW_KEY) return 'locking-read'
        this.#dml(code, p1, depth)
        return undefined
      case K.KW_INSERT:
      case K.KW_DELETE:
      case K.KW_MERGE:
        this.#dml(code, p1, depth)
        return undefined
    }
    return undefined
  }

  /**
   * A data-modifying statement opens a CTE body (`(DELETE`), follows a CTE list (`) UPDATE`), or follows a
   * SEARCH / CYCLE clause as the main statement of WITH. Elsewhere these words are column names or aliases.
   * The next token decides (INSERT INTO, DELETE FROM, MERGE INTO, UPDATE table).
   */
  #dml(code: number, p1: number, depth: number): void {
    if (
      p1 === TOKEN_LPAREN ||
      p1 === TOKEN_RPAREN ||
      (this.#withQuery && !this.#mainSeen && depth === this.#baseDepth)
    ) {
      this.#pendingDml = code
      this.#pendingDmlDepth = depth
    }
  }

  /** Remembers the last name and the name before a dot: `schema.func(`. */
  #trackName(kind: number, p1: number, p2: number): void {
    this.#qualified = p1 === TOKEN_DOT && isName(p2)
    const name = this.#previous
    this.#previous = this.#name
    this.#name = name
    const scanner = this.#scanner
    if (scanner.escape < 0) {
      name.text = scanner.text
      name.start = scanner.start
      name.end = scanner.end
    } else {
      // A U&"…" name: its escapes hide the letters, so it is matched by the name it decodes to.
      name.text = `"${identifierText(scanner.text, scanner.start, scanner.escape).replaceAll('"', '""')}"`
      name.start = 0
      name.end = name.text.length
    }
    name.quoted = kind === TOKEN_QUOTED_IDENT
  }

  #call(): ClassificationReason | undefined {
    return this.#functions.match(this.#name, this.#qualified ? this.#previous : undefined)
  }
}
