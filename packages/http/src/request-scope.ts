import { AsyncResource } from 'node:async_hooks'
import { isPgRouteError } from '@pgroute/core'
import type { SentToken } from './request-tokens.js'
import type { SessionRouter } from './session-router.js'

/** Whether `error` is the router refusing a malformed token. */
export function isInvalidToken(error: unknown): boolean {
  return isPgRouteError(error) && error.code === 'PGROUTE_INVALID_TOKEN'
}

/**
 * Runs `fn` in one session continuing from every token of `tokens`: each nested `router.session()` joins the
 * outer one, so the session must see all their positions. Rejects with the router's `PGROUTE_INVALID_TOKEN`
 * before `fn` runs when one is malformed.
 */
export function continueSession<T>(
  router: SessionRouter,
  tokens: readonly SentToken[],
  fn: () => Promise<T>,
): Promise<T> {
  let run = fn
  for (let index = tokens.length - 1; index >= 1; index--) {
    const inner = run
    const { token } = tokens[index]!
    run = () => router.session(inner, { token })
  }
  return router.session(run, { token: tokens[0]?.token })
}

/**
 * A request's session, for frameworks that run a request's stages from callbacks of their own (Express's
 * `next()`, Fastify's hooks) rather than inside one function: each stage re-enters the session with {@link run},
 * whatever async context the framework called it from. As with `router.session(next)` (the core's own example),
 * the session's function returns once the framework's next step has started; the steps after it run in the
 * session's async context. The router keeps nothing per session but the session itself, so a request needs no
 * `close` listener: its session goes with the request's objects.
 */
export class RequestScope {
  readonly #router: SessionRouter
  readonly #resource: AsyncResource

  constructor(router: SessionRouter, resource: AsyncResource) {
    this.#router = router
    this.#resource = resource
  }

  /** Runs `fn` inside the session. */
  run<T>(fn: () => T): T {
    return this.#resource.runInAsyncScope(fn)
  }

  /** `fn`, bound to run inside the session wherever it is called from. */
  bind<F extends (...args: never[]) => unknown>(fn: F): F {
    return this.#resource.bind(fn) as unknown as F
  }

  /** The session's token now (`router.token()` inside it). */
  token(): Promise<string | undefined> {
    return this.#resource.runInAsyncScope(() => this.#router.token())
  }
}

/**
 * Opens a session continuing from `tokens` and calls `opened` with it, inside it (synchronously when the router
 * starts the session at once, so the framework's next step runs in it with no detour), or `failed` with the
 * router's `PGROUTE_INVALID_TOKEN` when a token is malformed.
 */
export function openScope(
  router: SessionRouter,
  tokens: readonly SentToken[],
  opened: (scope: RequestScope) => void,
  failed: (error: unknown) => void,
): void {
  let open = false
  continueSession(router, tokens, async () => {
    open = true
    opened(new RequestScope(router, new AsyncResource('pgroute.session')))
  }).catch((error: unknown) => {
    if (!open) failed(error)
    // An error `opened` threw: left unhandled, as if the framework had called it itself.
    else throw error
  })
}
