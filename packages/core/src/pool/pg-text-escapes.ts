/** `pg.Client#escapeIdentifier`: `text` as a double-quoted identifier. */
export function escapeIdentifier(text: string): string {
  return `"${text.replace(/"/g, '""')}"`
}

/** `pg.Client#escapeLiteral`: `text` as a string literal (an `E''` literal when it holds a backslash). */
export function escapeLiteral(text: string): string {
  let hasBackslash = false
  let escaped = "'"
  for (const char of text) {
    if (char === "'") escaped += "''"
    else if (char === '\\') {
      escaped += '\\\\'
      hasBackslash = true
    } else escaped += char
  }
  escaped += "'"
  return hasBackslash ? ` E${escaped}` : escaped
}
