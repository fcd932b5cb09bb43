import { isToken } from '@pgroute/core'
import { TOKEN_HEADER } from './read-your-writes-options.js'
import type { SessionRouter } from './session-router.js'

/** Options of {@link fetchWithToken} and {@link tokenHeaders}. */
export interface OutgoingTokenOptions {
  /** The router whose current session's token is sent. */
  readonly router: SessionRouter
  /** Header carrying the token. Default `x-pgroute-token`. */
  readonly header?: string
}

/** Options of {@link fetchWithToken}. */
export interface FetchWithTokenOptions extends OutgoingTokenOptions {
  /** The `fetch` to wrap. Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch
  /**
   * Continue the current session from the token the other service answers with, so that reads after the call
   * see what it wrote (both services use the same cluster). Default true.
   */
  readonly continueFromResponse?: boolean
}

function headerOf(options: OutgoingTokenOptions): string {
  const { header = TOKEN_HEADER } = options
  if (typeof header !== 'string' || header === '') throw new TypeError('header: expected a header name')
  return header
}

/**
 * The headers that carry the current session's token to another service (`{}` outside a session or before it
 * has anything to see), for HTTP clients other than `fetch`.
 *
 * @example
 * ```ts
 * await axios.post(url, body, { headers: await tokenHeaders({ router }) })
 * ```
 */
export async function tokenHeaders(options: OutgoingTokenOptions): Promise<Record<string, string>> {
  const header = headerOf(options)
  const token = await options.router.token()
  return token === undefined ? {} : { [header]: token }
}

/**
 * A `fetch` that sends the current session's token to the service it calls (unless the call sets the header
 * itself), and continues the session from the token that service answers with. Inside a request handled by a
 * `readYourWrites()` middleware, the other service reads what this request wrote, and this request reads what
 * the other service wrote.
 *
 * @example
 * ```ts
 * const call = fetchWithToken({ router })
 * await router.query('UPDATE accounts SET plan = $1 WHERE id = $2', ['pro', id])
 * await call(`${billing}/invoices`, { method: 'POST', body: JSON.stringify({ account: id }) }) // sees the update
 * ```
 */
export function fetchWithToken(options: FetchWithTokenOptions): typeof fetch {
  const header = headerOf(options)
  const { router, fetch: fetchImpl = globalThis.fetch, continueFromResponse = true } = options
  if (typeof fetchImpl !== 'function') throw new TypeError('fetch: expected a fetch function')
  return async (input: string | URL | Request, init?: RequestInit) => {
    const token = await router.token()
    let call = init
    if (token !== undefined) {
      // Headers given in `init` replace a Request's own, as fetch() does.
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined))
      if (!headers.has(header)) {
        headers.set(header, token)
        call = { ...init, headers }
      }
    }
    const response = await fetchImpl(input, call)
    const answered = response.headers.get(header)
    // A malformed answer is ignored: the call's own outcome matters more than the token.
    if (continueFromResponse && answered !== null && isToken(answered)) {
      await router.session(() => undefined, { token: answered })
    }
    return response
  }
}
