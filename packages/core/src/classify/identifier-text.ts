/*
 * The names quoted identifiers spell, for the rare places the classifier needs them as strings: U&"…" names
 * (whose escapes hide the letters from the scanner's hash) and EXPLAIN option names and values.
 */

function hexValue(text: string, from: number, digits: number): number {
  let value = 0
  for (let i = from; i < from + digits; i++) {
    const digit = Number.parseInt(text.charAt(i), 16)
    if (Number.isNaN(digit)) return -1
    value = value * 16 + digit
  }
  return value
}

/**
 * The name spelled by the quoted identifier token starting at `start`: `"…"` with `""` read as `"`, or `U&"…"`
 * whose `marker` character (the escape) introduces `XXXX` / `+XXXXXX` hex code points and `marker marker` itself, as
 * PostgreSQL decodes it. `marker` is -1 for a plain quoted identifier. An invalid marker (which the server
 * rejects) leaves its characters as they are.
 */
export function identifierText(text: string, start: number, marker: number): string {
  let pos = text.indexOf('"', start) + 1
  let name = ''
  for (;;) {
    const close = text.indexOf('"', pos)
    if (close < 0) {
      name += text.slice(pos)
      break
    }
    name += text.slice(pos, close)
    if (text.charCodeAt(close + 1) !== 34) break
    name += '"'
    pos = close + 2
  }
  return marker < 0 ? name : unescapeUnicode(name, String.fromCharCode(marker))
}

function unescapeUnicode(body: string, marker: string): string {
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
    const code = long ? hexValue(body, at + 2, 6) : hexValue(body, at + 1, 4)
    if (code < 0 || code > 0x10ffff) {
      out += marker
      pos = at + 1
      continue
    }
    out += String.fromCodePoint(code)
    pos = at + (long ? 8 : 5)
  }
  return out + body.slice(pos)
}
