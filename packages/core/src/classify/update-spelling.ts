import { isColumnName, isName, KW_AS, KW_ONLY, KW_SET } from './sql-keywords.js'
import { TOKEN_DOT, TOKEN_LPAREN, TOKEN_RPAREN } from './sql-tokens.js'

/*
 * `UPDATE [ONLY] [(] name [. name …] [)] [*] [[AS] alias] SET`, spelled out one token at a time. Where a
 * data-modifying statement may start in a query (see QueryInspector), UPDATE starts one only when the tokens after
 * it spell this; anywhere else, and when they do not, it is a name.
 */

/** The state after UPDATE. */
export const UPDATE_START = 1
const UPDATE_ONLY = 2
const UPDATE_PAREN = 3
const UPDATE_PAREN_NAME = 4
const UPDATE_PAREN_DOT = 5
const UPDATE_NAME = 6
const UPDATE_DOT = 7
const UPDATE_AFTER = 8
const UPDATE_AS = 9
const UPDATE_ALIAS = 10
/** What {@link nextUpdateState} returns when SET completes the statement. */
export const UPDATE_SET = -1

/**
 * The state of an UPDATE in `state` after its next token, of keyword code or TOKEN_* kind `code` (`star` when the
 * token is `*`): UPDATE_SET once the statement is spelled out, 0 when the tokens spell no UPDATE statement.
 */
export function nextUpdateState(state: number, code: number, star: boolean): number {
  const name = isColumnName(code)
  switch (state) {
    case UPDATE_START:
      if (code === KW_ONLY) return UPDATE_ONLY
      return name ? UPDATE_NAME : 0
    case UPDATE_ONLY:
      if (code === TOKEN_LPAREN) return UPDATE_PAREN
      return name ? UPDATE_NAME : 0
    case UPDATE_PAREN:
      return name ? UPDATE_PAREN_NAME : 0
    case UPDATE_PAREN_NAME:
      if (code === TOKEN_DOT) return UPDATE_PAREN_DOT
      return code === TOKEN_RPAREN ? UPDATE_AFTER : 0
    case UPDATE_PAREN_DOT:
      return isName(code) ? UPDATE_PAREN_NAME : 0
    case UPDATE_NAME:
      if (code === KW_SET) return UPDATE_SET
      if (code === TOKEN_DOT) return UPDATE_DOT
      if (star) return UPDATE_AFTER // `table *`
      if (code === KW_AS) return UPDATE_AS
      return name ? UPDATE_ALIAS : 0
    case UPDATE_DOT:
      return isName(code) ? UPDATE_NAME : 0
    case UPDATE_AFTER:
      if (code === KW_SET) return UPDATE_SET
      if (code === KW_AS) return UPDATE_AS
      return name ? UPDATE_ALIAS : 0
    case UPDATE_AS:
      return isName(code) ? UPDATE_ALIAS : 0
    case UPDATE_ALIAS:
      return code === KW_SET ? UPDATE_SET : 0
  }
  return 0
}
