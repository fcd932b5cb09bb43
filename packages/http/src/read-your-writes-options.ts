import type { SessionRouter } from './session-router.js'

/** The request header (and response header) that carries the token unless configured otherwise. */
export const TOKEN_HEADER = 'x-pgroute-token'

/** The cookie name used when the cookie is enabled without a name. */
export const TOKEN_COOKIE = 'pgroute-token'

/** Where the token cookie applies and how the browser keeps it. */
export interface TokenCookieOptions {
  /** Cookie name. Default `pgroute-token`. */
  readonly name?: string
  /** Default `/`. */
  readonly path?: string
  /** Default: none (the host that answered). */
  readonly domain?: string
  /**
   * Lifetime in seconds. Default: none, a session cookie. A token only matters until every replica has replayed
   * its position (seconds, normally), so a short lifetime loses nothing.
   */
  readonly maxAge?: number
  /** Send it over HTTPS only. Default false; required by `sameSite: 'none'`. */
  readonly secure?: boolean
  /** Hide it from page scripts. Default true. */
  readonly httpOnly?: boolean
  /** Default `lax`. */
  readonly sameSite?: 'lax' | 'strict' | 'none'
}

/** A request's headers, by lower-case name (`undefined` when absent). */
export type HeaderReader = (name: string) => string | readonly string[] | undefined

/**
 * Another place a request's token may come from, besides the header and the cookie: called once per request,
 * in the request's async context. `tokenFromBaggage` of `@pgroute/http/opentelemetry` is one.
 */
export type TokenSource = (header: HeaderReader) => string | undefined

/**
 * Options of every framework integration's `readYourWrites()`: which router, and where the token travels.
 *
 * @example
 * ```ts
 * app.use(readYourWrites({ router, cookie: { maxAge: 60 } })) // header and cookie
 * ```
 */
export interface ReadYourWritesOptions {
  /**
   * The router whose sessions the requests run in (`createRouter()` of `@pgroute/core`), or a function giving
   * it, called per request: to create the router on first use (Next.js also loads route modules while building,
   * where no database is configured).
   */
  readonly router: SessionRouter | (() => SessionRouter)
  /**
   * Request header the client sends its last token in, and response header the new token is answered in.
   * Default `x-pgroute-token`; `false`: no header (the cookie only).
   */
  readonly header?: string | false
  /**
   * A cookie carrying the token both ways, for browsers: `true` (named `pgroute-token`), a name, or its
   * options. Default `false`.
   */
  readonly cookie?: boolean | string | TokenCookieOptions
  /** More places a request's token may come from, such as `tokenFromBaggage`. Default none. */
  readonly sources?: readonly TokenSource[]
  /**
   * A token every request continues from at least: the app's own schema changes, say, made at start-up
   * (`router.token()` after the migrations). A function is called per request.
   */
  readonly baseline?: string | (() => string | undefined)
  /**
   * Called when the new token cannot be had after the handler (the primary failed under `router.token()`): the
   * response is sent without it, since the request's work is done. Default: a process warning.
   */
  readonly onTokenError?: (error: unknown) => void
}
