import type { ClassificationReason } from './classification.js'
import type { SqlScanner } from './sql-scanner.js'
import type { CallArgument, SqlTextReader } from './sql-text-functions.js'
import {
  TOKEN_COMMA,
  TOKEN_NUMBER,
  TOKEN_OTHER,
  TOKEN_QUOTED_IDENT,
  TOKEN_STRING,
  TOKEN_WORD,
} from './sql-tokens.js'
import { literalValue } from './string-literal.js'

/** Whether a SQL text is a plain read (classified by a classifier of its own: see TextAnalyzer). */
export type ReadCheck = (sql: string) => boolean

/**
 * A call of a function that runs SQL text (see sql-text-functions.ts), fed the tokens after its opening
 * parenthesis: it reads its arguments as they come (the value of each literal one) and, at its closing
 * parenthesis, judges what the call runs. One is made per such call, which is rare.
 */
export class SqlTextCall {
  readonly #name: string
  readonly #reader: SqlTextReader
  /** Parenthesis depth of the arguments. */
  readonly #depth: number
  readonly #args: CallArgument[] = []
  // The argument being read: its token count, and its first token.
  #tokens = 0
  #kind = 0
  #start = 0
  #end = 0
  #escape = -1
  /** The argument's tokens after its literal that spell a cast (`'…'::text`), 0 when none. */
  #cast = 0

  /** A call of the function `name`, whose arguments `reader` reads, with its arguments at parenthesis `depth`. */
  constructor(name: string, reader: SqlTextReader, depth: number) {
    this.#name = name
    this.#reader = reader
    this.#depth = depth
  }

  /**
   * Takes the scanner's current token (TOKEN_* `kind`, keyword or kind `code`) at parenthesis `depth`. True while
   * the call goes on, false for its closing parenthesis (then see {@link reason}).
   */
  take(scanner: SqlScanner, kind: number, code: number, depth: number): boolean {
    if (depth >= this.#depth && !(depth === this.#depth && code === TOKEN_COMMA)) {
      const tokens = ++this.#tokens
      if (tokens === 1) {
        this.#cast = 1
        this.#kind = kind
        this.#start = scanner.start
        this.#end = scanner.end
        this.#escape = scanner.escape
      } else if (this.#kind === TOKEN_STRING && this.#castsLiteral(scanner, tokens, kind)) this.#cast = tokens
      return true
    }
    if (this.#tokens > 0 || code === TOKEN_COMMA) this.#endArgument(scanner)
    return depth >= this.#depth
  }

  /** Once the call closed: why it needs the primary, or undefined when all it runs are plain reads. */
  reason(isRead: ReadCheck): ClassificationReason | undefined {
    const texts = this.#reader(this.#args)
    if (texts?.every((sql) => isRead(sql))) return undefined
    return `volatile-function:${this.#name}`
  }

  /** Whether token number `tokens` of a literal argument continues `::type` after it. */
  #castsLiteral(scanner: SqlScanner, tokens: number, kind: number): boolean {
    if (this.#cast !== tokens - 1) return false
    if (tokens <= 3) return kind === TOKEN_OTHER && scanner.text.charCodeAt(scanner.start) === 58
    return tokens === 4 && (kind === TOKEN_WORD || kind === TOKEN_QUOTED_IDENT)
  }

  #endArgument(scanner: SqlScanner): void {
    let text: string | undefined
    // A literal, or a literal cast to a type: the function reads text either way.
    const single = this.#tokens === 1 || (this.#cast === 4 && this.#tokens === 4)
    if (single && this.#kind === TOKEN_STRING) {
      text = literalValue(scanner.text, this.#start, this.#end, scanner.escapeInPlain, this.#escape)
    }
    this.#args.push({ text, numeric: this.#tokens === 1 && this.#kind === TOKEN_NUMBER })
    this.#tokens = 0
  }
}
