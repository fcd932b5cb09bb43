import { isPgRouteError } from '@pgroute/core'
import type { SentToken } from './request-tokens.js'
import type { OpenedSession, SessionRouter } from './session-router.js'

/** Whether `error` is the router refusing a malformed token. */
export function isInvalidToken(error: unknown): boolean {
  return isPgRouteError(error) && error.code === 'PGROUTE_INVALID_TOKEN'
}

/** Inside a session: joins it, which continues it from `token` too. */
function join(router: SessionRouter, token: string): void {
  router.openSession({ token })
}

/**
 * A request's session, continuing from every token of `tokens`. Each stage of the request enters it with `run()`:
 * the handler (Hono, Next.js), or every step a framework calls back from a context of its own (Express's
 * `next()`, Fastify's hooks). Opening it does no more than make the session: nothing waits, and while it is
 * `empty` (no token sent, no write) it has no token to ask for, so a request that never touches the router costs
 * little more than entering it. The router keeps nothing per session, so a request needs no `close` listener:
 * its session goes with the request's objects. Throws the router's `PGROUTE_INVALID_TOKEN` when a token is
 * malformed.
 */
export function openRequestSession(router: SessionRouter, tokens: readonly SentToken[]): OpenedSession {
  if (tokens.length === 0) return router.openSession()
  const session = router.openSession({ token: tokens[0]!.token })
  for (let index = 1; index < tokens.length; index++) session.run(join, router, tokens[index]!.token)
  return session
}
