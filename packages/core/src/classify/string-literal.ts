import { isBlank } from './sql-chars.js'

/*
 * The text a string literal token stands for, as the server's lexer decodes it, for the rare places the classifier
 * needs it: EXPLAIN option values and the SQL text passed to functions that run it. Allocates; never on the path
 * of a plain query.
 */

/**
 * Where a string literal continues when its segment closed just before `pos`: the position of the next segment's
 * opening quote, or -1. As scan.l's quotecontinue: blanks and `--` comments that hold at least one line break.
 */
export function continuationQuote(text: string, pos: number): number {
  let newline = false
  for (;;) {
    if (pos >= text.length) return -1
    const code = text.charCodeAt(pos)
    if (code === 10 || code === 13) {
      newline = true
      pos++
    } else if (isBlank(code)) pos++
    else if (code === 45 && text.charCodeAt(pos + 1) === 45) {
      // A comment runs to the line break, which the loop then reads.
      const lf = text.indexOf('\n', pos)
      const cr = text.indexOf('\r', pos)
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr)
      if (end < 0) return -1
      pos = end
    } else return code === 39 && newline ? pos : -1
  }
}

function hexDigits(text: string, from: number, count: number): number {
  let value = 0
  for (let i = from; i < from + count; i++) {
    const digit = Number.parseInt(text.charAt(i), 16)
    if (Number.isNaN(digit)) return -1
    value = value * 16 + digit
  }
  return value
}

function isHex(code: number): boolean {
  const lower = code | 32
  return (code >= 48 && code <= 57) || (lower >= 97 && lower <= 102)
}

/** A code point the server accepts in a literal (no NUL, no surrogate half), as a string; undefined else. */
function codePoint(value: number): string | undefined {
  if (value <= 0 || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return undefined
  return String.fromCodePoint(value)
}

/**
 * Reads an E'…' segment from just past its opening quote at `pos` (scan.l's xe rules): its value and the position
 * past its closing quote; undefined when it is unclosed or holds an escape the server rejects.
 */
function readEscaped(text: string, pos: number): [value: string, end: number] | undefined {
  let out = ''
  for (;;) {
    const quote = text.indexOf("'", pos)
    const at = text.indexOf('\\', pos)
    if (quote < 0) return undefined
    if (at < 0 || quote < at) {
      out += text.slice(pos, quote)
      if (text.charCodeAt(quote + 1) !== 39) return [out, quote + 1]
      out += "'"
      pos = quote + 2
      continue
    }
    out += text.slice(pos, at)
    const next = text.charAt(at + 1)
    pos = at + 2
    const simple = SIMPLE_ESCAPES[next]
    if (simple !== undefined) out += simple
    else if (next >= '0' && next <= '7') {
      let end = at + 1
      while (end < at + 4 && text.charAt(end) >= '0' && text.charAt(end) <= '7') end++
      const value = Number.parseInt(text.slice(at + 1, end), 8) & 0xff
      // A byte of a multibyte character is no character of its own here: leave such text undecoded.
      if (value === 0 || value >= 0x80) return undefined
      out += String.fromCharCode(value)
      pos = end
    } else if (next === 'x' && isHex(text.charCodeAt(at + 2))) {
      const end = isHex(text.charCodeAt(at + 3)) ? at + 4 : at + 3
      const value = Number.parseInt(text.slice(at + 2, end), 16)
      if (value === 0 || value >= 0x80) return undefined
      out += String.fromCharCode(value)
      pos = end
    } else if (next === 'u' || next === 'U') {
      const digits = next === 'u' ? 4 : 8
      const value = hexDigits(text, at + 2, digits)
      const char = value < 0 ? undefined : codePoint(value)
      if (char === undefined) return undefined
      out += char
      pos = at + 2 + digits
    } else if (next === '') return undefined
    else out += next
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
}

/** Decodes the escapes of a U&'…' body with `marker` as the escape character; undefined when one is invalid. */
export function unescapeUnicode(body: string, marker: string): string | undefined {
  let out = ''
  let pos = 0
  for (let at = body.indexOf(marker); at >= 0; at = body.indexOf(marker, pos)) {
    out += body.slice(pos, at)
    if (body.charAt(at + 1) === marker) {
      out += marker
      pos = at + 2
      continue
    }
    const long = body.charAt(at + 1) === '+'
    const value = long ? hexDigits(body, at + 2, 6) : hexDigits(body, at + 1, 4)
    const char = value < 0 ? undefined : codePoint(value)
    if (char === undefined) return undefined
    out += char
    pos = at + (long ? 8 : 5)
  }
  return out + body.slice(pos)
}

/** Reads a segment without escapes from just past its opening quote at `pos`: `''` is a quote. */
function readPlain(text: string, pos: number): [value: string, end: number] | undefined {
  let out = ''
  for (;;) {
    const quote = text.indexOf("'", pos)
    if (quote < 0) return undefined
    out += text.slice(pos, quote)
    if (text.charCodeAt(quote + 1) !== 39) return [out, quote + 1]
    out += "'"
    pos = quote + 2
  }
}

/**
 * The value of the string literal token `text[start, end)`: '…' (with backslash escapes when `escapeInPlain`, as
 * with standard_conforming_strings off), E'…', U&'…' (whose escape character is `marker`, the code the scanner
 * read from its UESCAPE clause) and dollar-quoted, with continuation segments joined. Undefined for B'…', X'…' and
 * N'…' literals, which are no plain text, and for escapes the server would reject.
 */
export function literalValue(
  text: string,
  start: number,
  end: number,
  escapeInPlain: boolean,
  marker: number,
): string | undefined {
  const first = text.charCodeAt(start)
  if (first === 36) {
    const tagEnd = text.indexOf('$', start + 1) + 1
    const tag = tagEnd - start
    return text.slice(tagEnd, end - tag)
  }
  const lower = first | 32
  let open = start
  let backslashes = escapeInPlain
  let unicode = false
  if (first !== 39) {
    if (lower === 101) backslashes = true
    else if (lower === 117) unicode = true
    else return undefined
    open = text.indexOf("'", start)
  }
  if (unicode) backslashes = false
  let value = ''
  for (;;) {
    const read = backslashes ? readEscaped(text, open + 1) : readPlain(text, open + 1)
    if (read === undefined) return undefined
    value += read[0]
    const next = continuationQuote(text, read[1])
    if (next < 0 || next >= end) break
    open = next
  }
  if (unicode) return unescapeUnicode(value, String.fromCharCode(marker < 0 ? 92 : marker))
  return value
}
