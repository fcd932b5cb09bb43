/**
 * Read-your-writes across requests for Express (4 and 5) and any `(req, res, next)` stack on `node:http`.
 *
 * @example
 * ```ts
 * import { readYourWrites } from '@pgroute/http/express'
 *
 * app.use(readYourWrites({ router })) // before the routes: each request runs in router.session()
 * ```
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type AnswerToken, enterScope, prepareScopes } from './node-request-scope.js'
import type { ReadYourWritesOptions } from './read-your-writes-options.js'
import { isInvalidToken, openRequestSession } from './request-scope.js'
import { invalidTokenBody, nodeRequestTokens } from './request-tokens.js'
import { resolveOptions } from './resolve-options.js'
import { answerHeaders } from './response-token.js'
import type { OpenedSession } from './session-router.js'

export type { ReadYourWritesOptions, TokenCookieOptions } from './read-your-writes-options.js'

/** A connect-style middleware: Express's `RequestHandler` without depending on Express's types. */
export type ReadYourWritesMiddleware = (
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void

/**
 * Middleware that runs the rest of each request (later middleware, the route, its handler) in a
 * `router.session()` continuing from the token the client sent (header and/or cookie), and answers with the
 * session's new token in the same places. A malformed token is answered with 400 and nothing else runs.
 *
 * When the session has anything to see by the time the answer starts, its headers are held back until the token
 * is known (a write makes it cost a round trip to the primary): `res.json()`, `res.send()`, streams and
 * `res.writeHead()` all work as usual. A request with nothing to see (no token sent, no write) is answered at
 * once. Request body events run inside the session, so body parsers registered after this middleware keep the
 * session too. Register it before the routes.
 *
 * @example
 * ```ts
 * const app = express()
 * app.use(readYourWrites({ router, cookie: true }))
 * app.use(express.json())
 * app.post('/posts', async (req, res) => {
 *   const { rows } = await router.query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [req.body.title])
 *   res.status(201).json(rows[0]) // answered with x-pgroute-token and the pgroute-token cookie
 * })
 * ```
 */
export function readYourWrites(options: ReadYourWritesOptions): ReadYourWritesMiddleware {
  const resolved = resolveOptions(options)
  const { onTokenError } = resolved
  prepareScopes()
  const answer: AnswerToken = (response, session) =>
    session.token().then((token) => {
      if (token === undefined || response.headersSent) return
      for (const [name, value] of answerHeaders(resolved, token)) appendHeader(response, name, value)
    }, onTokenError)
  return (request, response, next) => {
    const tokens = nodeRequestTokens(resolved, request.headers)
    let session: OpenedSession
    try {
      session = openRequestSession(resolved.router(), tokens)
    } catch (error) {
      const body = isInvalidToken(error) ? invalidTokenBody(tokens) : undefined
      if (body === undefined) return next(error)
      response.statusCode = 400
      response.setHeader('content-type', 'application/json; charset=utf-8')
      response.end(JSON.stringify(body))
      return
    }
    enterScope(request, session, answer)
    session.run(next)
  }
}

/** Sets a header; a `Set-Cookie` joins the ones already set rather than replacing them. */
function appendHeader(response: ServerResponse, name: string, value: string): void {
  if (name !== 'set-cookie') {
    response.setHeader(name, value)
    return
  }
  const existing = response.getHeader(name)
  const cookies = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]
  response.setHeader(name, [...cookies, value])
}
