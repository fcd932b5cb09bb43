import { identifierText } from './identifier-text.js'
import { hashToken, type NameToken } from './name-hash.js'
import { isName } from './sql-keywords.js'
import type { SqlScanner } from './sql-scanner.js'
import { TOKEN_DOT, TOKEN_QUOTED_IDENT, TOKEN_WORD } from './sql-tokens.js'

/*
 * The last name of a query and the name before it, for the call that may follow them: `schema.func(`. Names are
 * kept as where they are in the text, numbers only: a name is read as a token only when a call follows it, and
 * most names are of columns and tables.
 */

/** The last two names of a query's token stream (see the file comment). Not reentrant. */
export class CallNames {
  readonly #scanner: SqlScanner
  #start = 0
  #end = 0
  #quoted = false
  /** The scanner's escape of the name (a U&"…" name's escape character), -1 for other names. */
  #escape = -1
  /** The scanner's hash of the name when it is a word (see name-hash.ts); -1 when it must be computed. */
  #hash = -1
  #previousStart = 0
  #previousEnd = 0
  #previousQuoted = false
  #previousEscape = -1
  /** The last name follows a dot after a name: the name before it qualifies it. */
  #qualified = false
  // The names of a call, as FunctionMatcher reads them.
  readonly #name: NameToken = { text: '', start: 0, end: 0, quoted: false }
  readonly #qualifier: NameToken = { text: '', start: 0, end: 0, quoted: false }

  constructor(scanner: SqlScanner) {
    this.#scanner = scanner
  }

  /** Starts on a query: no name yet (the keyword that starts it is none: `SELECT (` calls nothing). */
  reset(): void {
    this.#start = this.#end = 0
    this.#quoted = false
    this.#escape = -1
    this.#hash = -1
    this.#qualified = false
  }

  /** Takes the scanner's current token, a word or quoted identifier of TOKEN_* `kind` after tokens `p1`, `p2`. */
  track(kind: number, p1: number, p2: number): void {
    this.#qualified = p1 === TOKEN_DOT && isName(p2)
    this.#previousStart = this.#start
    this.#previousEnd = this.#end
    this.#previousQuoted = this.#quoted
    this.#previousEscape = this.#escape
    const scanner = this.#scanner
    this.#start = scanner.start
    this.#end = scanner.end
    this.#quoted = kind === TOKEN_QUOTED_IDENT
    this.#escape = scanner.escape
    this.#hash = kind === TOKEN_WORD ? scanner.hash : -1
  }

  /** The last name, as a token (the same object every time). */
  name(): NameToken {
    return this.#token(this.#name, this.#start, this.#end, this.#quoted, this.#escape)
  }

  /** The name before `.` and the last name, or undefined when the last name is not qualified. */
  qualifier(): NameToken | undefined {
    if (!this.#qualified) return undefined
    return this.#token(
      this.#qualifier,
      this.#previousStart,
      this.#previousEnd,
      this.#previousQuoted,
      this.#previousEscape,
    )
  }

  /** {@link hashToken} of {@link name}: a word's is the scanner's, a quoted name is hashed by its content. */
  hash(): number {
    return this.#hash >= 0 ? this.#hash : hashToken(this.name())
  }

  /** Sets `token` to the name token `text[start, end)`, whose escape character is `marker` (-1 for none). */
  #token(token: NameToken, start: number, end: number, quoted: boolean, marker: number): NameToken {
    const text = this.#scanner.text
    if (marker < 0) {
      token.text = text
      token.start = start
      token.end = end
    } else {
      // A U&"…" name: its escapes hide the letters, so it is matched by the name it decodes to.
      token.text = `"${identifierText(text, start, marker).replaceAll('"', '""')}"`
      token.start = 0
      token.end = token.text.length
    }
    token.quoted = quoted
    return token
  }
}
