import type { ResolvedOptions } from './resolve-options.js'

/** The response headers that answer `token`: the token header and/or a `Set-Cookie`, as `[name, value]`. */
export function answerHeaders(options: ResolvedOptions, token: string): Array<[string, string]> {
  const headers: Array<[string, string]> = []
  if (options.header !== undefined) headers.push([options.header, token])
  if (options.cookie !== undefined)
    headers.push(['set-cookie', `${options.cookie.name}=${token}${options.cookie.attributes}`])
  return headers
}

/** Sets `token` on Web `Headers`; throws a `TypeError` when they are immutable (before changing any). */
export function setToken(headers: Headers, options: ResolvedOptions, token: string): void {
  for (const [name, value] of answerHeaders(options, token)) {
    if (name === 'set-cookie') headers.append(name, value)
    else headers.set(name, value)
  }
}

/**
 * A Web `Response` carrying `token`: the same one when its headers can change, else a copy (the headers of a
 * `fetch()` answer or of `Response.redirect()` are immutable).
 */
export function withToken(response: Response, options: ResolvedOptions, token: string): Response {
  try {
    setToken(response.headers, options, token)
    return response
  } catch (error) {
    if (!(error instanceof TypeError)) throw error
    const copy = new Response(response.body, response)
    setToken(copy.headers, options, token)
    return copy
  }
}
