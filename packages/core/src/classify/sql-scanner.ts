import { HASH_SEED, hashFinish, hashStep, keyBits, keyHigh, keyLow } from './name-hash.js'
import { isDigit, isIdentChar, isIdentStart, spellsAt, WORD_CHARS } from './sql-chars.js'
import { blockCommentEnd, lineCommentEnd, readHint, skipBlanks } from './sql-comments.js'
import {
  TOKEN_COMMA,
  TOKEN_DOT,
  TOKEN_END,
  TOKEN_LPAREN,
  TOKEN_NUMBER,
  TOKEN_OTHER,
  TOKEN_PARAM,
  TOKEN_QUOTED_IDENT,
  TOKEN_RPAREN,
  TOKEN_SEMICOLON,
  TOKEN_STRING,
  TOKEN_WORD,
} from './sql-tokens.js'
import { continuationQuote } from './string-literal.js'

/*
 * A PostgreSQL lexer reduced to what routing needs. It walks the text with charCodeAt and keeps the current
 * token in its own fields (no token objects), skipping whitespace and comments (noting routing hints found in
 * them) and treating every kind of string literal as one opaque token. It follows the server's lexer (scan.l):
 * string literals continued on the next line (\`'a'⏎'b'\`, in the mode of their first segment), U& literals
 * with their UESCAPE clause, and plain literals read with standard_conforming_strings on (the default) or off
 * ({@link SqlScanner.reset}).
 */

/** Pulls tokens from one SQL text; reusable through {@link SqlScanner.reset}. Not reentrant. */
export class SqlScanner {
  /** Start of the current token. */
  start = 0
  /** End (exclusive) of the current token. */
  end = 0
  /** Case-folded hash of the current word (see name-hash.ts). */
  hash = 0
  /** Word key of the current word, its last four code units (see name-hash.ts). */
  low = 0
  /** Word key of the current word, the four code units before {@link low}. */
  high = 0
  /** HINT_* bits of the routing hints seen in comments so far. */
  hints = 0
  /** True once a literal, quoted identifier or comment ran to the end of the text unclosed. */
  unterminated = false
  /**
   * For a U&"…" identifier or U&'…' string token: the code of its escape character (`\` unless a UESCAPE clause,
   * which the token then includes, names another); -1 for every other token.
   */
  escape = -1
  /** Plain '…' literals take backslash escapes, as with standard_conforming_strings off. */
  escapeInPlain = false
  /** A plain '…' literal held a backslash: it reads differently with standard_conforming_strings off. */
  backslashInPlain = false
  /** The text being scanned (set by {@link reset}). */
  text = ''

  /**
   * The next backslash of the text at or after where it was last looked for; -1 when there is none, -2 before the
   * first look.
   */
  #backslash = -2

  /** Notes whether the plain literal body `text[from, close)` holds a backslash. */
  #noteBackslash(from: number, close: number): void {
    if (this.#backslash < from) this.#backslash = this.text.indexOf('\\', from)
    if (this.#backslash >= 0 && this.#backslash < close) this.backslashInPlain = true
  }

  /**
   * Starts scanning `text` from its beginning; `escapeInPlain` reads plain literals as the server does with
   * standard_conforming_strings off.
   */
  reset(text: string, escapeInPlain = false): void {
    this.text = text
    this.escapeInPlain = escapeInPlain
    this.backslashInPlain = false
    this.#backslash = -2
    this.start = 0
    this.end = 0
    this.hints = 0
    this.unterminated = false
  }

  /** Advances to the next token and returns its TOKEN_* kind. */
  next(): number {
    const text = this.text
    const length = text.length
    // The next token starts after the current one ends.
    let pos = this.end
    let code = 0
    // skipBlanks(), inlined by hand: this loop runs once per token, and the call costs measurably here. No read
    // goes past the end (charCodeAt would return NaN there, and V8 compiles such reads into slower code).
    for (;;) {
      if (pos >= length) {
        this.start = this.end = length
        return TOKEN_END
      }
      code = text.charCodeAt(pos)
      if (code === 32 || (code >= 9 && code <= 13)) pos++
      else if (code === 45 && pos + 1 < length && text.charCodeAt(pos + 1) === 45)
        pos = lineCommentEnd(this, pos + 2)
      else if (code === 47 && pos + 1 < length && text.charCodeAt(pos + 1) === 42)
        pos = blockCommentEnd(this, pos + 2)
      else break
    }
    this.start = pos
    this.escape = -1
    let kind: number
    if (isIdentStart(code)) kind = this.#word(pos)
    else if (code === 39) kind = this.escapeInPlain ? this.#escapeString(pos + 1) : this.#plainString(pos + 1)
    else if (code === 34) {
      // #quotedIdent(), inlined by hand: in ORM SQL this is the most frequent token.
      let close = text.indexOf('"', pos + 1)
      while (close >= 0 && close + 1 < length && text.charCodeAt(close + 1) === 34)
        close = text.indexOf('"', close + 2)
      if (close < 0) kind = this.#unclosed(TOKEN_QUOTED_IDENT)
      else {
        this.end = close + 1
        kind = TOKEN_QUOTED_IDENT
      }
    } else if (isDigit(code) || (code === 46 && pos + 1 < length && isDigit(text.charCodeAt(pos + 1))))
      kind = this.#number(pos + 1)
    else if (code === 36) kind = this.#dollar(pos)
    else {
      this.end = pos + 1
      if (code === 40) kind = TOKEN_LPAREN
      else if (code === 41) kind = TOKEN_RPAREN
      else if (code === 59) kind = TOKEN_SEMICOLON
      else if (code === 44) kind = TOKEN_COMMA
      else if (code === 46) kind = TOKEN_DOT
      else kind = TOKEN_OTHER
    }
    return kind
  }

  /** An unquoted word (keyword or identifier) with its hash and word key, or a literal with a one-letter prefix. */
  #word(start: number): number {
    const text = this.text
    const length = text.length
    let pos = start
    let hash = HASH_SEED
    let low = 0
    let high = 0
    let stop = -1
    while (pos < length) {
      const code = text.charCodeAt(pos)
      const folded = code < 128 ? WORD_CHARS[code]! : code
      if (folded === 0) {
        stop = code
        break
      }
      hash = hashStep(hash, folded)
      high = keyHigh(high, low)
      low = keyLow(low, keyBits(folded))
      pos++
    }
    // A letter glued to a quote or `&` may start a literal or a U&"…" identifier.
    if (pos === start + 1 && (stop === 39 || stop === 38)) {
      const kind = this.#prefixed(start, stop)
      if (kind !== TOKEN_END) return kind
    }
    this.hash = hashFinish(hash)
    this.low = low
    this.high = high
    this.end = pos
    return TOKEN_WORD
  }

  /**
   * The literal or U&"…" identifier that starts with the letter at `pos` and `second` (a quote or `&`) after it;
   * TOKEN_END when they start none (the letter is a word).
   */
  #prefixed(pos: number, second: number): number {
    const text = this.text
    const lower = text.charCodeAt(pos) | 32
    if (second === 39) {
      // A one-letter prefix glued to a quote starts a literal: E'…' takes backslash escapes, B and X do not, and
      // N'…' is a plain literal (with backslash escapes when plain literals take them).
      if (lower === 101) return this.#escapeString(pos + 2)
      if (lower === 110 && this.escapeInPlain) return this.#escapeString(pos + 2)
      if (lower === 98 || lower === 120 || lower === 110) return this.#plainString(pos + 2)
    } else if (lower === 117) {
      const quote = pos + 2 < text.length ? text.charCodeAt(pos + 2) : -1
      if (quote === 39) {
        const kind = this.#plainString(pos + 3)
        this.escape = this.#uescape()
        return kind
      }
      if (quote === 34) {
        const kind = this.#quotedIdent(pos + 3)
        this.escape = this.#uescape()
        return kind
      }
    }
    return TOKEN_END
  }

  /**
   * A literal whose only escape is a doubled quote, with its continuation segments; `pos` is just past the opening
   * quote.
   */
  #plainString(pos: number): number {
    const text = this.text
    const from = pos
    for (;;) {
      const close = text.indexOf("'", pos)
      if (close < 0) return this.#unclosed(TOKEN_STRING)
      if (close + 1 < text.length && text.charCodeAt(close + 1) === 39) {
        pos = close + 2
        continue
      }
      if (this.#backslash !== -1 && !this.backslashInPlain) this.#noteBackslash(from, close)
      const next = this.#continuation(close + 1)
      if (next < 0) {
        this.end = close + 1
        return TOKEN_STRING
      }
      pos = next + 1
    }
  }

  /**
   * An E'…' literal: backslash escapes the next character, and a doubled quote is a quote; its continuation
   * segments take escapes too.
   */
  #escapeString(pos: number): number {
    const text = this.text
    const length = text.length
    while (pos < length) {
      const code = text.charCodeAt(pos)
      if (code === 92) pos += 2
      else if (code !== 39) pos++
      else if (pos + 1 < length && text.charCodeAt(pos + 1) === 39) pos += 2
      else {
        const next = this.#continuation(pos + 1)
        if (next < 0) {
          this.end = pos + 1
          return TOKEN_STRING
        }
        pos = next + 1
      }
    }
    return this.#unclosed(TOKEN_STRING)
  }

  /**
   * The position of the quote that continues a literal whose segment closed just before `pos`: blanks and `--`
   * comments holding at least one line break, then a quote (scan.l's quotecontinue); -1 when none follows.
   */
  #continuation(pos: number): number {
    const text = this.text
    if (pos >= text.length) return -1
    const code = text.charCodeAt(pos)
    // The common case: the literal is followed by something else than a blank.
    if (code !== 32 && code !== 45 && (code < 9 || code > 13)) return -1
    const at = continuationQuote(text, pos)
    if (at >= 0) {
      // Comments in between are comments: note their hints.
      for (let i = pos; i < at; i++) {
        if (text.charCodeAt(i) !== 45) continue
        readHint(this, i + 2, true)
        while (i < at && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++
      }
    }
    return at
  }

  /** A "quoted identifier"; `pos` is just past the opening quote. */
  #quotedIdent(pos: number): number {
    const text = this.text
    for (;;) {
      const close = text.indexOf('"', pos)
      if (close < 0) return this.#unclosed(TOKEN_QUOTED_IDENT)
      if (close + 1 === text.length || text.charCodeAt(close + 1) !== 34) {
        this.end = close + 1
        return TOKEN_QUOTED_IDENT
      }
      pos = close + 2
    }
  }

  /**
   * Reads the `UESCAPE 'c'` clause that may follow a U&"…" or U&'…' token (blanks and comments between its parts) into
   * the token, and returns the escape character's code (`\` without the clause).
   */
  #uescape(): number {
    const text = this.text
    let pos = skipBlanks(this, this.end)
    if (!spellsAt(text, pos, 'uescape') || isIdentChar(text.charCodeAt(pos + 7))) return 92
    pos = skipBlanks(this, pos + 7)
    // One character between quotes; anything else is a syntax error, left for the server to report.
    if (text.charCodeAt(pos) !== 39 || text.charCodeAt(pos + 2) !== 39) return 92
    this.end = pos + 3
    return text.charCodeAt(pos + 1)
  }

  /** Digits, decimal points, exponents, 0x/0o/0b prefixes and `_` separators, read loosely as one token. */
  #number(pos: number): number {
    const text = this.text
    const length = text.length
    while (pos < length) {
      const code = text.charCodeAt(pos)
      if (!isIdentStart(code) && !isDigit(code) && code !== 46) break
      pos++
    }
    this.end = pos
    return TOKEN_NUMBER
  }

  /** `$1`, a dollar-quoted literal, or a lone `$`. */
  #dollar(pos: number): number {
    const text = this.text
    const length = text.length
    const second = pos + 1 < length ? text.charCodeAt(pos + 1) : -1
    let tagEnd = pos + 1
    if (isDigit(second)) {
      while (tagEnd < length && isDigit(text.charCodeAt(tagEnd))) tagEnd++
      this.end = tagEnd
      return TOKEN_PARAM
    }
    if (second !== 36) {
      if (!isIdentStart(second)) {
        this.end = pos + 1
        return TOKEN_OTHER
      }
      tagEnd++
      while (tagEnd < length) {
        const code = text.charCodeAt(tagEnd)
        if (isIdentStart(code) || isDigit(code)) tagEnd++
        else break
      }
      if (tagEnd === length || text.charCodeAt(tagEnd) !== 36) {
        this.end = pos + 1
        return TOKEN_OTHER
      }
    }
    const delimiter = text.slice(pos, tagEnd + 1)
    const close = text.indexOf(delimiter, tagEnd + 1)
    if (close < 0) return this.#unclosed(TOKEN_STRING)
    this.end = close + delimiter.length
    return TOKEN_STRING
  }

  #unclosed(kind: number): number {
    this.unterminated = true
    this.end = this.text.length
    return kind
  }
}
