/**
 * Read-your-writes across the boundaries of a request: each framework's integration (`@pgroute/http/express`,
 * `/fastify`, `/hono`, `/next`) runs a request in a `router.session()` continuing from the client's token and
 * answers with the new one; `fetchWithToken` and `tokenHeaders` carry it to other services, and
 * `@pgroute/http/opentelemetry` through tracing baggage. This entry point loads no framework.
 *
 * @example
 * ```ts
 * import { readYourWrites } from '@pgroute/http/express'
 * import { fetchWithToken } from '@pgroute/http'
 *
 * app.use(readYourWrites({ router }))
 * const call = fetchWithToken({ router }) // the services it calls see this request's writes
 * ```
 *
 * @packageDocumentation
 */

export {
  type FetchWithTokenOptions,
  fetchWithToken,
  type OutgoingTokenOptions,
  tokenHeaders,
} from './outgoing-token.js'
export {
  type HeaderReader,
  type ReadYourWritesOptions,
  TOKEN_COOKIE,
  TOKEN_HEADER,
  type TokenCookieOptions,
  type TokenSource,
} from './read-your-writes-options.js'
export type { InvalidTokenBody } from './request-tokens.js'
export type { SessionRouter } from './session-router.js'
