import { unescapeUnicode } from './string-literal.js'

/*
 * The names quoted identifiers spell, for the rare places the classifier needs them as strings: U&"…" names
 * (whose escapes hide the letters from the scanner's hash) and EXPLAIN option names and values.
 */

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
  return marker < 0 ? name : (unescapeUnicode(name, String.fromCharCode(marker)) ?? name)
}
