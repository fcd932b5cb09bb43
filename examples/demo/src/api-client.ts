import { NODE_HEADER, TOKEN_HEADER } from '@pgroute-examples/kysely-app'

/** One answer of the example app. */
export interface ApiResponse {
  readonly status: number
  // biome-ignore lint/suspicious/noExplicitAny: JSON of the example app, checked field by field by the caller
  readonly body: any
  /** The read-your-writes token the app answered with (`x-pgroute-token`). */
  readonly token: string | undefined
  /** Port of the PostgreSQL server that ran the request's statement (`x-pgroute-node`), when a row said so. */
  readonly port: number | undefined
}

/** Options of one {@link ApiClient.request}. */
export interface RequestOptions {
  /** Token to send in `x-pgroute-token`. */
  readonly token?: string | undefined
  /** JSON body. */
  readonly json?: unknown
  /** Cancels the request. */
  readonly signal?: AbortSignal | undefined
}

/** A tiny JSON-over-HTTP client for the example apps, on Node's built-in `fetch`. */
export class ApiClient {
  readonly #baseUrl: string
  readonly #timeoutMs: number

  constructor(baseUrl: string, timeoutMs = 10_000) {
    this.#baseUrl = baseUrl
    this.#timeoutMs = timeoutMs
  }

  /** Sends one request. Rejects only when no answer came (connection failure or timeout). */
  async request(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = {}
    if (options.token !== undefined) headers[TOKEN_HEADER] = options.token
    if (options.json !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(this.#baseUrl + path, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      signal: options.signal
        ? AbortSignal.any([options.signal, AbortSignal.timeout(this.#timeoutMs)])
        : AbortSignal.timeout(this.#timeoutMs),
    })
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // Not JSON (should not happen with these apps): keep the text for the error message.
    }
    const node = response.headers.get(NODE_HEADER)
    return {
      status: response.status,
      body,
      token: response.headers.get(TOKEN_HEADER) ?? undefined,
      port: node === null ? undefined : Number(node.slice(node.lastIndexOf(':') + 1)),
    }
  }
}
