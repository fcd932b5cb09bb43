import { ConfigError, isToken } from '@pgroute/core'
import {
  type ReadYourWritesOptions,
  TOKEN_COOKIE,
  TOKEN_HEADER,
  type TokenCookieOptions,
  type TokenSource,
} from './read-your-writes-options.js'
import type { SessionRouter } from './session-router.js'

/** {@link ReadYourWritesOptions} checked, with defaults applied. */
export interface ResolvedOptions {
  /** The router (the option's function called, its result checked once). */
  readonly router: () => SessionRouter
  /** Lower case; `undefined`: no header. */
  readonly header: string | undefined
  readonly cookie: ResolvedCookie | undefined
  readonly sources: readonly TokenSource[]
  readonly baseline: (() => string | undefined) | undefined
  readonly onTokenError: (error: unknown) => void
}

/** The cookie's name and its attributes, serialized once. */
export interface ResolvedCookie {
  readonly name: string
  /** `; Path=/; HttpOnly; SameSite=Lax`, appended to every `Set-Cookie`. */
  readonly attributes: string
}

/** An HTTP token (RFC 9110): the characters a header or cookie name may use. */
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** A cookie attribute value: no separator, no control character. */
const ATTRIBUTE = /^[^\s;,\u0000-\u001f\u007f]+$/
const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'string' || typeof value === 'number' ? JSON.stringify(value) : typeof value
}

function warn(error: unknown): void {
  const detail = error instanceof Error ? error.message : String(error)
  process.emitWarning(`The response went out without its pgroute token: ${detail}`, {
    code: 'PGROUTE_TOKEN_UNAVAILABLE',
  })
}

/** Checks the options up front: a bad value throws a `ConfigError` naming it. */
export function resolveOptions(options: ReadYourWritesOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', `expected an object like { router }, got ${describe(options)}`)
  }
  const {
    router,
    header = TOKEN_HEADER,
    cookie = false,
    sources = [],
    baseline,
    onTokenError = warn,
  } = options
  if (typeof router !== 'function') checkRouter(router)
  if (header !== false && (typeof header !== 'string' || !NAME.test(header))) {
    throw new ConfigError('header', `expected a header name or false, got ${describe(header)}`)
  }
  const resolvedCookie = resolveCookie(cookie)
  if (header === false && resolvedCookie === undefined) {
    throw new ConfigError('header', 'the token needs a way to travel: a header, a cookie or both')
  }
  if (!Array.isArray(sources) || sources.some((source) => typeof source !== 'function')) {
    throw new ConfigError('sources', `expected an array of functions, got ${describe(sources)}`)
  }
  if (baseline !== undefined && typeof baseline !== 'function' && !isToken(baseline)) {
    throw new ConfigError(
      'baseline',
      `expected a token from router.token() or a function, got ${describe(baseline)}`,
    )
  }
  if (typeof onTokenError !== 'function') {
    throw new ConfigError('onTokenError', `expected a function, got ${describe(onTokenError)}`)
  }
  return {
    router: typeof router === 'function' ? checkedOnce(router) : () => router,
    header: header === false ? undefined : header.toLowerCase(),
    cookie: resolvedCookie,
    sources: [...sources],
    baseline: typeof baseline === 'string' ? () => baseline : baseline,
    onTokenError,
  }
}

/** Duck-typed rather than `instanceof`, so a router from another copy of @pgroute/core is accepted. */
function checkRouter(router: unknown): asserts router is SessionRouter {
  const candidate = router as Partial<SessionRouter> | undefined
  if (
    typeof candidate?.session !== 'function' ||
    typeof candidate.token !== 'function' ||
    typeof candidate.openSession !== 'function'
  ) {
    throw new ConfigError(
      'router',
      `expected a Router from createRouter() of @pgroute/core, got ${describe(router)}`,
    )
  }
}

/** `get`, whose result is checked the first time each router comes out of it. */
function checkedOnce(get: () => SessionRouter): () => SessionRouter {
  const checked = new WeakSet<object>()
  return () => {
    const router = get()
    if (typeof router !== 'object' || router === null || !checked.has(router)) {
      checkRouter(router)
      checked.add(router)
    }
    return router
  }
}

function resolveCookie(cookie: ReadYourWritesOptions['cookie']): ResolvedCookie | undefined {
  if (cookie === false) return undefined
  const options: TokenCookieOptions =
    cookie === true ? {} : typeof cookie === 'string' ? { name: cookie } : (cookie as TokenCookieOptions)
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(
      'cookie',
      `expected a boolean, a cookie name or cookie options, got ${describe(cookie)}`,
    )
  }
  const {
    name = TOKEN_COOKIE,
    path = '/',
    domain,
    maxAge,
    secure = false,
    httpOnly = true,
    sameSite = 'lax',
  } = options
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError('cookie.name', `expected a cookie name, got ${describe(name)}`)
  }
  if (typeof path !== 'string' || !ATTRIBUTE.test(path)) {
    throw new ConfigError('cookie.path', `expected a path, got ${describe(path)}`)
  }
  if (domain !== undefined && (typeof domain !== 'string' || !ATTRIBUTE.test(domain))) {
    throw new ConfigError('cookie.domain', `expected a domain, got ${describe(domain)}`)
  }
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 0)) {
    throw new ConfigError('cookie.maxAge', `expected a whole number of seconds, got ${describe(maxAge)}`)
  }
  for (const [key, value] of [
    ['secure', secure],
    ['httpOnly', httpOnly],
  ] as const) {
    if (typeof value !== 'boolean')
      throw new ConfigError(`cookie.${key}`, `expected a boolean, got ${describe(value)}`)
  }
  if (!Object.hasOwn(SAME_SITE, sameSite)) {
    throw new ConfigError('cookie.sameSite', `expected 'lax', 'strict' or 'none', got ${describe(sameSite)}`)
  }
  if (sameSite === 'none' && !secure) {
    throw new ConfigError('cookie.sameSite', "'none' needs secure: true (browsers drop the cookie otherwise)")
  }
  const attributes = [
    `Path=${path}`,
    domain !== undefined && `Domain=${domain}`,
    maxAge !== undefined && `Max-Age=${maxAge}`,
    httpOnly && 'HttpOnly',
    secure && 'Secure',
    `SameSite=${SAME_SITE[sameSite]}`,
  ]
    .filter(Boolean)
    .map((attribute) => `; ${attribute}`)
    .join('')
  return { name, attributes }
}
