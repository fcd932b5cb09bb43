/**
 * Read-your-writes across requests for Hono 4 (on Node.js, where pgroute runs).
 *
 * @example
 * ```ts
 * import { readYourWrites } from '@pgroute/http/hono'
 *
 * app.use(readYourWrites({ router }))
 * ```
 *
 * @packageDocumentation
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { ReadYourWritesOptions } from './read-your-writes-options.js'
import { isInvalidToken, openRequestSession } from './request-scope.js'
import { invalidTokenBody, requestTokens, type SentToken } from './request-tokens.js'
import { resolveOptions } from './resolve-options.js'
import { setToken } from './response-token.js'
import type { OpenedSession } from './session-router.js'

export type { ReadYourWritesOptions, TokenCookieOptions } from './read-your-writes-options.js'

/**
 * Middleware that runs the rest of each request (later middleware and the handler) in a `router.session()`
 * continuing from the token the client sent (header and/or cookie), and answers with the session's new token
 * in the same places. A malformed token is answered with 400 and nothing else runs.
 *
 * @example
 * ```ts
 * const app = new Hono()
 * app.use(readYourWrites({ router }))
 * app.post('/posts', async (c) => {
 *   const { title } = await c.req.json()
 *   const { rows } = await router.query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [title])
 *   return c.json(rows[0], 201) // answered with x-pgroute-token
 * })
 * ```
 */
export function readYourWrites(options: ReadYourWritesOptions): MiddlewareHandler {
  const resolved = resolveOptions(options)
  const { onTokenError } = resolved
  const answer = (c: Context, session: OpenedSession): Promise<void> =>
    session.token().then((token) => {
      if (token === undefined) return
      try {
        setToken(c.res.headers, resolved, token)
      } catch (error) {
        if (!(error instanceof TypeError)) throw error
        // Immutable headers (a fetch() answer, Response.redirect()): Hono's setter makes a copy first.
        c.res = new Response(c.res.body, c.res)
        setToken(c.res.headers, resolved, token)
      }
    }, onTokenError)
  // Not an async function: a request with nothing to see costs one promise more than the handler's own.
  return (c, next) => {
    let tokens: readonly SentToken[] | undefined
    let session: OpenedSession
    try {
      tokens = requestTokens(resolved, (name) => c.req.header(name))
      session = openRequestSession(resolved.router(), tokens)
    } catch (error) {
      const body = tokens !== undefined && isInvalidToken(error) ? invalidTokenBody(tokens) : undefined
      return body === undefined ? Promise.reject(error) : Promise.resolve(c.json(body, 400))
    }
    return session.run(next).then(() => (session.empty ? undefined : answer(c, session)))
  }
}
