import { isToken } from '@pgroute/core'
import type { SessionRouter } from './session-router.js'

/** The payload field that carries the token of the request that enqueued the job. */
export const TOKEN_KEY = 'pgrouteToken'

/** A job payload as {@link carryToken} returns it. */
export type WithToken<T> = T & { readonly [TOKEN_KEY]?: string }

/**
 * `data` with the current session's token in its `pgrouteToken` field (unchanged outside a session or before it
 * has anything to see): enqueue the result, and a worker wrapped by `inSession()` reads what this request wrote
 * before enqueuing. Take it after the write's transaction committed: a token taken inside a transaction does
 * not cover the transaction's commit.
 *
 * @example
 * ```ts
 * await router.query('INSERT INTO users (email) VALUES ($1)', [email])
 * await queue.add('welcome', await carryToken(router, { email })) // BullMQ; boss.send(), addJob() alike
 * ```
 */
export async function carryToken<T extends object>(router: SessionRouter, data: T): Promise<WithToken<T>> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError(
      `carryToken: expected the job's payload object, got ${Array.isArray(data) ? 'an array' : typeof data}`,
    )
  }
  const token = await router.token()
  return token === undefined ? data : { ...data, [TOKEN_KEY]: token }
}

/**
 * The token a job's payload carries, if any. A field that is not a token is passed on as it is, so that the
 * router rejects it with `PGROUTE_INVALID_TOKEN` rather than the job silently losing read-your-writes.
 */
export function tokenOf(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const token = (data as Record<string, unknown>)[TOKEN_KEY]
  if (token === undefined || token === null) return undefined
  return isToken(token) ? token : (token as string)
}
