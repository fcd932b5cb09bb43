/**
 * Read-your-writes across requests for Fastify 5: a plugin (encapsulation skipped, so it covers the routes of
 * the instance it is registered on and of its children).
 *
 * @example
 * ```ts
 * import { readYourWrites } from '@pgroute/http/fastify'
 *
 * await app.register(readYourWrites, { router })
 * ```
 *
 * @packageDocumentation
 */
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  RouteHandlerMethod,
} from 'fastify'
import fp from 'fastify-plugin'
import type { ReadYourWritesOptions } from './read-your-writes-options.js'
import { isInvalidToken, openRequestSession } from './request-scope.js'
import { invalidTokenBody, nodeRequestTokens } from './request-tokens.js'
import { resolveOptions } from './resolve-options.js'
import { answerHeaders } from './response-token.js'
import type { OpenedSession } from './session-router.js'

export type { ReadYourWritesOptions, TokenCookieOptions } from './read-your-writes-options.js'

/** A request of an instance the plugin was registered on: its session under the registration's own key. */
type WithSession = Record<symbol, OpenedSession | null>

function callHandler(
  handler: RouteHandlerMethod,
  instance: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
): unknown {
  return handler.call(instance, request, reply)
}

const plugin: FastifyPluginCallback<ReadYourWritesOptions> = (app, options, done) => {
  const resolved = resolveOptions(options)
  const { onTokenError } = resolved
  // A request decoration, so that every request is made with the property (one shape); a key of this
  // registration's own, so that two registrations do not share it.
  const key = Symbol('pgroute.session')
  app.decorateRequest(key, null)
  const sessionOf = (request: FastifyRequest) => (request as unknown as WithSession)[key] ?? undefined

  app.addHook('onRequest', (request, reply, next) => {
    const tokens = nodeRequestTokens(resolved, request.headers)
    let session: OpenedSession
    try {
      session = openRequestSession(resolved.router(), tokens)
    } catch (error) {
      const body = isInvalidToken(error) ? invalidTokenBody(tokens) : undefined
      if (body === undefined) next(error as Error)
      else reply.code(400).send(body)
      return
    }
    ;(request as unknown as WithSession)[key] = session
    session.run(next)
  })

  // Each later stage re-enters the session, whatever async context the stage before it resumed from (a hook
  // that calls done() from a shared queue or an event of another request would otherwise leave it).
  const reenter = (request: FastifyRequest, _reply: unknown, next: () => void) => {
    const session = sessionOf(request)
    if (session === undefined) next()
    else session.run(next)
  }
  app.addHook('preValidation', reenter)
  app.addHook('preHandler', reenter)
  app.addHook('onRoute', (route) => {
    const handler = route.handler
    route.handler = function (this: FastifyInstance, request, reply) {
      const session = sessionOf(request)
      return session === undefined
        ? handler.call(this, request, reply)
        : session.run(callHandler, handler, this, request, reply)
    }
  })

  // Runs before the answer is written, whether the handler returned it or called reply.send() itself. A
  // session with nothing to see has no token: the answer goes on at once.
  app.addHook('onSend', (request, reply, payload, next) => {
    const session = sessionOf(request)
    if (session === undefined || session.empty) {
      next(null, payload)
      return
    }
    session
      .token()
      .then((token) => {
        if (token === undefined) return
        // Fastify appends `set-cookie` values rather than replacing them.
        for (const [name, value] of answerHeaders(resolved, token)) reply.header(name, value)
      })
      .catch(onTokenError)
      .then(() => next(null, payload), next)
  })

  done()
}

/**
 * Fastify plugin that runs each request's lifecycle — `onRequest` hooks registered after it, `preValidation`,
 * `preHandler`, the handler, serialization — in a `router.session()` continuing from the token the client sent
 * (header and/or cookie), and answers with the session's new token in the same places (an `onSend` hook, so
 * it also covers `reply.send()` from the handler and error answers). A malformed token is answered with 400 and
 * the route does not run.
 *
 * Register it before the routes and hooks that query the database.
 *
 * @example
 * ```ts
 * const app = Fastify()
 * await app.register(readYourWrites, { router, cookie: true })
 * app.post('/posts', async (request) => {
 *   const { rows } = await router.query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [request.body.title])
 *   return rows[0] // answered with x-pgroute-token and the pgroute-token cookie
 * })
 * ```
 */
export const readYourWrites = fp(plugin, { fastify: '5.x', name: '@pgroute/http' })
