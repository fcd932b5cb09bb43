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
 * A request's session, held open until {@link close}: for frameworks that run a request's stages from
 * callbacks of their own (Express's `next()`, Fastify's hooks) rather than inside one function. Each stage
 * re-enters the session with {@link run}, whatever async context the framework called it from.
 */
export class RequestScope {
  readonly #router: SessionRouter
  readonly #resource: AsyncResource
  readonly #close: () => void

  constructor(router: SessionRouter, resource: AsyncResource, close: () => void) {
    this.#router = router
    this.#resource = resource
    this.#close = close
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

  /** Ends the session (the request is over). Idempotent. */
  close(): void {
    this.#close()
  }
}

/**
 * Opens a session continuing from `tokens` and resolves once it is open. Rejects with the router's
 * `PGROUTE_INVALID_TOKEN` when a token is malformed.
 */
export function openScope(router: SessionRouter, tokens: readonly SentToken[]): Promise<RequestScope> {
  return new Promise((resolve, reject) => {
    let opened = false
    continueSession(
      router,
      tokens,
      () =>
        new Promise<void>((close) => {
          opened = true
          resolve(new RequestScope(router, new AsyncResource('pgroute.session'), close))
        }),
    ).catch((error: unknown) => {
      // Once open, the session ends only through close().
      if (!opened) reject(error)
    })
  })
}
