import { isIdentChar, spellsAt } from './sql-chars.js'

/*
 * Comments, as PostgreSQL's lexer reads them (`--` to the line break, `/* … *\/` nested), and the routing hints
 * written in them: a comment that starts (after blanks) with `pgroute:primary` or `pgroute:replica`. The scanner
 * skips comments through these functions, which note hints and unclosed comments in its fields.
 */

/** Bit of {@link CommentState.hints}: a `pgroute:primary` comment was seen. */
export const HINT_PRIMARY = 1
/** Bit of {@link CommentState.hints}: a `pgroute:replica` comment was seen. */
export const HINT_REPLICA = 2

/** What reading comments notes: the scanner's (see sql-scanner.ts). */
export interface CommentState {
  readonly text: string
  /** HINT_* bits of the routing hints seen so far. */
  hints: number
  /** Set when a comment runs to the end of the text unclosed. */
  unterminated: boolean
}

/** Skips a `--` comment; `pos` is just past the dashes. Returns the position after its line break. */
export function lineCommentEnd(state: CommentState, pos: number): number {
  const text = state.text
  const length = text.length
  readHint(state, pos, true)
  while (pos < length) {
    const code = text.charCodeAt(pos)
    if (code === 10 || code === 13) return pos + 1
    pos++
  }
  return length
}

/**
 * Skips a block comment, which nests in PostgreSQL; `pos` is just past the opening `/*`. Returns the position after
 * its end.
 */
export function blockCommentEnd(state: CommentState, pos: number): number {
  const text = state.text
  const length = text.length
  let depth = 1
  readHint(state, pos, false)
  while (pos < length) {
    const code = text.charCodeAt(pos)
    if (code === 42 && pos + 1 < length && text.charCodeAt(pos + 1) === 47) {
      pos += 2
      if (--depth === 0) return pos
    } else if (code === 47 && pos + 1 < length && text.charCodeAt(pos + 1) === 42) {
      pos += 2
      depth++
      readHint(state, pos, false)
    } else pos++
  }
  state.unterminated = true
  return length
}

/** The position of the first character at or after `pos` that is no blank and in no comment. */
export function skipBlanks(state: CommentState, pos: number): number {
  const text = state.text
  for (;;) {
    const code = text.charCodeAt(pos)
    if (code === 32 || (code >= 9 && code <= 13)) pos++
    else if (code === 45 && text.charCodeAt(pos + 1) === 45) pos = lineCommentEnd(state, pos + 2)
    else if (code === 47 && text.charCodeAt(pos + 1) === 42) pos = blockCommentEnd(state, pos + 2)
    else return pos
  }
}

/**
 * Notes the hint of a comment whose text starts at `pos`. A line comment (`inLine`) ends at a line break, so its
 * blanks do not include one.
 */
export function readHint(state: CommentState, pos: number, inLine: boolean): void {
  const text = state.text
  let code = text.charCodeAt(pos)
  while (code === 32 || code === 9 || (!inLine && (code === 10 || code === 13))) code = text.charCodeAt(++pos)
  if (!spellsAt(text, pos, 'pgroute:')) return
  pos += 8
  let hint = 0
  if (spellsAt(text, pos, 'primary')) hint = HINT_PRIMARY
  else if (spellsAt(text, pos, 'replica')) hint = HINT_REPLICA
  if (hint !== 0 && (pos + 7 === text.length || !isIdentChar(text.charCodeAt(pos + 7)))) state.hints |= hint
}
