import { foldCase } from './name-hash.js'

/*
 * Classes of characters as PostgreSQL's lexer (scan.l) sees them, on UTF-16 code units: every code unit outside
 * ASCII is a letter (the server reads multibyte characters as identifier characters).
 */

/** A letter, `_` or any code unit outside ASCII: the first character of a word. */
export function isIdentStart(code: number): boolean {
  const lower = code | 32
  return (lower >= 97 && lower <= 122) || code === 95 || code >= 128
}

/** A character of a word after its first: also digits and `$`. */
export function isIdentChar(code: number): boolean {
  return isIdentStart(code) || (code >= 48 && code <= 57) || code === 36
}

/** An ASCII digit. */
export function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

/** Space, tab, line feed, vertical tab, form feed or carriage return. */
export function isBlank(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13)
}

/** Per ASCII code: the code case-folded when it may continue a word (letters, digits, `_`, `$`), else 0. */
export const WORD_CHARS = new Uint8Array(128)
for (let code = 0; code < 128; code++) if (isIdentChar(code)) WORD_CHARS[code] = foldCase(code)

/** True when `text` at `pos` spells the lower-case `word`, ignoring ASCII case. */
export function spellsAt(text: string, pos: number, word: string): boolean {
  if (pos + word.length > text.length) return false
  for (let i = 0; i < word.length; i++) {
    if (foldCase(text.charCodeAt(pos + i)) !== word.charCodeAt(i)) return false
  }
  return true
}
