/**
 * Read-your-writes across requests for Next.js App Router route handlers (`app/**\/route.ts`, Node.js runtime).
 *
 * @example
 * ```ts
 * import { readYourWrites } from '@pgroute/http/next'
 *
 * const withSession = readYourWrites({ router })
 * export const GET = withSession(async (request) => Response.json(await listPosts()))
 * ```
 *
 * @packageDocumentation
 */
import type { ReadYourWritesOptions } from './read-your-writes-options.js'
import { isInvalidToken, openRequestSession } from './request-scope.js'
import { invalidTokenBody, requestTokens, type SentToken } from './request-tokens.js'
import { resolveOptions } from './resolve-options.js'
import { withToken } from './response-token.js'
import type { OpenedSession } from './session-router.js'

export type { ReadYourWritesOptions, TokenCookieOptions } from './read-your-writes-options.js'

/** A route handler: `NextRequest` is a `Request`, and the second argument holds the route's `params`. */
export type RouteHandler<Context, R extends Request = Request> = (
  request: R,
  context: Context,
) => Response | Promise<Response>

/**
 * Wraps route handlers so that each runs in a `router.session()` continuing from the token the client sent
 * (header and/or cookie), and answers with the session's new token in the same places. A malformed token is
 * answered with 400 and the handler does not run.
 *
 * The session covers the handler until it returns its `Response`; a streamed body produced later still runs in
 * it, but its writes are not in the token already sent.
 */
export type WithReadYourWrites = <Context, R extends Request = Request>(
  handler: RouteHandler<Context, R>,
) => (request: R, context: Context) => Promise<Response>

/**
 * Makes the wrapper for route handlers: create it once (next to the router) and wrap each exported method.
 *
 * @example
 * ```ts
 * // app/posts/route.ts
 * const withSession = readYourWrites({ router })
 * export const POST = withSession(async (request) => {
 *   const { title } = await request.json()
 *   const { rows } = await router.query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [title])
 *   return Response.json(rows[0], { status: 201 }) // answered with x-pgroute-token
 * })
 * ```
 */
export function readYourWrites(options: ReadYourWritesOptions): WithReadYourWrites {
  const resolved = resolveOptions(options)
  const { onTokenError } = resolved
  return (handler) => async (request, context) => {
    let tokens: readonly SentToken[] | undefined
    let session: OpenedSession
    try {
      tokens = requestTokens(resolved, (name) => request.headers.get(name) ?? undefined)
      session = openRequestSession(resolved.router(), tokens)
    } catch (error) {
      const body = tokens !== undefined && isInvalidToken(error) ? invalidTokenBody(tokens) : undefined
      if (body === undefined) throw error
      return Response.json(body, { status: 400 })
    }
    const response = await session.run(handler, request, context)
    if (session.empty) return response
    let token: string | undefined
    try {
      token = await session.token()
    } catch (error) {
      onTokenError(error)
    }
    return token === undefined ? response : withToken(response, resolved, token)
  }
}
