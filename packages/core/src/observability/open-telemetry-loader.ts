import { createRequire } from 'node:module'

/** The OpenTelemetry API, as `@opentelemetry/api` exports it. */
export type OpenTelemetryApi = typeof import('@opentelemetry/api')

/** In the CommonJS build `__filename` names this file; in the ES module build it does not exist. */
declare const __filename: string | undefined

let cached: OpenTelemetryApi | null | undefined

/**
 * `@opentelemetry/api` when the application has it installed, else `undefined`. It is an optional peer: loading
 * it synchronously, once, lets `createRouter` decide up front whether to install any hook at all, so a router
 * without it runs exactly the code it ran before. The API keeps its registrations on `globalThis`, so the copy
 * loaded here sees the providers the application registered, whichever module format it uses.
 */
export function loadOpenTelemetry(): OpenTelemetryApi | undefined {
  if (cached === undefined) {
    try {
      const base = typeof __filename === 'string' ? __filename : import.meta.url
      cached = createRequire(base)('@opentelemetry/api') as OpenTelemetryApi
    } catch {
      cached = null
    }
  }
  return cached ?? undefined
}
