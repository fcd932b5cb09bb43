/*
 * The kinds of token SqlScanner (sql-scanner.ts) returns. Keyword codes (sql-keyword-codes.ts) share their number
 * space: kinds are below KW_MIN.
 */

/** No more tokens. */
export const TOKEN_END = 0
/** An unquoted word: keyword or identifier. `hash` holds its case-folded hash. */
export const TOKEN_WORD = 1
/** A "quoted identifier", or a U&"…" one with its UESCAPE clause (see the scanner's `escape`). */
export const TOKEN_QUOTED_IDENT = 2
/**
 * Any string literal: '…', E'…', B'…', X'…', N'…', U&'…' (with its UESCAPE clause), $$…$$, $tag$…$tag$; a literal
 * continued on the next line is one token with all its segments (see `string-literal.ts`).
 */
export const TOKEN_STRING = 3
/** A numeric literal. */
export const TOKEN_NUMBER = 4
/** A positional parameter, $1. */
export const TOKEN_PARAM = 5
/** `(` */
export const TOKEN_LPAREN = 6
/** `)` */
export const TOKEN_RPAREN = 7
/** `;` */
export const TOKEN_SEMICOLON = 8
/** `,` */
export const TOKEN_COMMA = 9
/** `.` (not the one of a number) */
export const TOKEN_DOT = 10
/** Any other character: operators, brackets, `:` of casts. */
export const TOKEN_OTHER = 11
