/**
 * Read-your-writes through OpenTelemetry baggage: the token travels in the `baggage` header that tracing
 * already propagates across every instrumented hop (HTTP, gRPC, messaging), without each hop knowing pgroute.
 * Needs `@opentelemetry/api` and a propagator for W3C baggage (the Node SDK registers one by default).
 *
 * @example
 * ```ts
 * import { tokenFromBaggage, withTokenInBaggage } from '@pgroute/http/opentelemetry'
 *
 * app.use(readYourWrites({ router, sources: [tokenFromBaggage] })) // the receiving service
 * await withTokenInBaggage(router, () => fetch(url))                // the calling service
 * ```
 *
 * @packageDocumentation
 */
import { context, propagation } from '@opentelemetry/api'
import type { SessionRouter } from './session-router.js'

/** The baggage entry holding the token. */
export const BAGGAGE_KEY = 'pgroute.token'

/**
 * The token in the baggage of the active OpenTelemetry context, if any: a token source for the `sources`
 * option of `readYourWrites()`, or for `router.session(fn, { token: tokenFromBaggage() })` in a consumer.
 */
export function tokenFromBaggage(): string | undefined {
  return propagation.getBaggage(context.active())?.getEntry(BAGGAGE_KEY)?.value
}

/**
 * Runs `fn` with the current session's token in the active context's baggage (unchanged outside a session or
 * before it has anything to see), so that the calls `fn` makes through instrumented clients carry it.
 */
export async function withTokenInBaggage<T>(router: SessionRouter, fn: () => T | Promise<T>): Promise<T> {
  const token = await router.token()
  if (token === undefined) return fn()
  const active = context.active()
  const baggage = (propagation.getBaggage(active) ?? propagation.createBaggage()).setEntry(BAGGAGE_KEY, {
    value: token,
  })
  return context.with(propagation.setBaggage(active, baggage), fn)
}
