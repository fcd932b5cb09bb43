import { isToken, type Router } from '@pgroute/core'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'

/** Request and response header carrying the read-your-writes token (a WAL position and its timeline, such as `0/3000060@1`). */
export const TOKEN_HEADER = 'x-pgroute-token'

/** Options of {@link readYourWrites}. */
export interface ReadYourWritesOptions {
  readonly router: Router
  /** A token every request starts from at least: the app's own schema changes must be visible to every read. */
  readonly baseline?: string | undefined
}

/**
 * Runs every route handler registered after it inside `router.session()`, continuing from the token the client
 * sent in `x-pgroute-token`, and answers with the session's new token in the same header. A client that sends
 * back the last token it received reads its own writes on every later request, whichever replica serves them.
 *
 * A malformed token is answered with 400 (the client would otherwise silently lose read-your-writes).
 */
export function readYourWrites(app: FastifyInstance, options: ReadYourWritesOptions): void {
  const { router, baseline } = options
  app.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod
    route.handler = async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const sent = request.headers[TOKEN_HEADER]
      if (sent !== undefined && !isToken(sent)) {
        reply.code(400)
        return {
          statusCode: 400,
          error: 'Bad Request',
          message: `Invalid ${TOKEN_HEADER} header: expected a token from an earlier response, like '0/3000060@1'`,
        }
      }
      // The inner scope joins the outer one: the session must see both the baseline and the client's token.
      return router.session(
        () =>
          router.session(
            async () => {
              const result = await handler.call(this, request, reply)
              const token = await router.token()
              if (token !== undefined) reply.header(TOKEN_HEADER, token)
              return result
            },
            { token: sent },
          ),
        { token: baseline },
      )
    }
  })
}
