import { isToken } from '@pgroute/core'
import type { HeaderReader } from './read-your-writes-options.js'
import type { ResolvedOptions } from './resolve-options.js'

/** A token a request carries, and where it came from (for the 400 answer naming a malformed one). */
export interface SentToken {
  readonly token: string
  /** `the x-pgroute-token header`, `the pgroute-token cookie`, …; `undefined` for the app's own baseline. */
  readonly from: string | undefined
}

/** One header value: repeated headers are joined as HTTP joins them (then malformed as a token). */
function single(value: string | readonly string[] | undefined): string | undefined {
  const text = typeof value === 'string' ? value : value?.join(', ')
  // An empty value is no token: clients echo `''` when an earlier answer had none.
  return text === undefined || text.trim() === '' ? undefined : text
}

/** The value of cookie `name` in a `Cookie` header, unquoted; the first one when the browser sent several. */
export function cookieValue(
  header: string | readonly string[] | undefined,
  name: string,
): string | undefined {
  const text = typeof header === 'string' ? header : header?.join('; ')
  if (text === undefined) return undefined
  for (const pair of text.split(';')) {
    const equals = pair.indexOf('=')
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue
    const value = pair.slice(equals + 1).trim()
    return single(
      value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value,
    )
  }
  return undefined
}

/** No token: shared, so that a request without one allocates nothing for it. */
const NONE: readonly SentToken[] = Object.freeze([])

/**
 * Every token of a request whose headers are a Node `IncomingMessage`'s `headers` (lower-case names). With the
 * default options (the header only) it reads one header and allocates nothing when there is no token.
 */
export function nodeRequestTokens(
  options: ResolvedOptions,
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): readonly SentToken[] {
  if (options.baseline !== undefined || options.cookie !== undefined || options.sources.length > 0) {
    return requestTokens(options, (name) => headers[name])
  }
  const token = options.header === undefined ? undefined : single(headers[options.header])
  return token === undefined ? NONE : [{ token, from: `${options.header} header` }]
}

/** Every token the request carries (baseline, header, cookie, other sources), in that order. */
export function requestTokens(options: ResolvedOptions, header: HeaderReader): SentToken[] {
  const tokens: SentToken[] = []
  const baseline = options.baseline?.()
  if (baseline !== undefined) tokens.push({ token: baseline, from: undefined })
  if (options.header !== undefined) {
    const token = single(header(options.header))
    if (token !== undefined) tokens.push({ token, from: `${options.header} header` })
  }
  if (options.cookie !== undefined) {
    const token = cookieValue(header('cookie'), options.cookie.name)
    if (token !== undefined) tokens.push({ token, from: `${options.cookie.name} cookie` })
  }
  for (const source of options.sources) {
    const token = single(source(header))
    if (token !== undefined) tokens.push({ token, from: `token from ${source.name || 'a token source'}` })
  }
  return tokens
}

/** The 400 answer's body when the router refused the request's tokens. */
export interface InvalidTokenBody {
  readonly statusCode: 400
  readonly error: 'Bad Request'
  readonly code: 'PGROUTE_INVALID_TOKEN'
  readonly message: string
}

/**
 * The 400 answer for tokens the router refused as malformed, naming the one the client sent; `undefined` when
 * the malformed one is the app's own baseline (a server bug, not the client's).
 */
export function invalidTokenBody(tokens: readonly SentToken[]): InvalidTokenBody | undefined {
  const bad = tokens.find((sent) => !isToken(sent.token))
  if (bad?.from === undefined) return undefined
  return {
    statusCode: 400,
    error: 'Bad Request',
    code: 'PGROUTE_INVALID_TOKEN',
    message: `Invalid ${bad.from}: expected a token from an earlier response, like '0/3000060@1'`,
  }
}
