/**
 * What the integrations need of a router: its read-your-writes sessions and their tokens. A structural subset of
 * `Router` from `@pgroute/core`, so a router from another copy of the core package fits as well.
 */
export interface SessionRouter {
  /** Runs `fn` in a read-your-writes scope, continuing from `token` (see `Router.session`). */
  session<T>(fn: () => T | Promise<T>, options?: { readonly token?: string }): Promise<T>
  /** The current scope's causal token, or `undefined` outside a scope or before it has anything to see. */
  token(): Promise<string | undefined>
  /**
   * Opens a read-your-writes scope continuing from `token` without running anything in it yet, or joins the one
   * open where it is called (see `Router.openSession`). Throws `PGROUTE_INVALID_TOKEN` for a malformed token.
   */
  openSession(options?: { readonly token?: string }): OpenedSession
}

/** A scope of {@link SessionRouter.openSession}: `SessionHandle` of `@pgroute/core`. */
export interface OpenedSession {
  /** Calls `fn(...args)` inside the scope, synchronously, and returns what it returns. */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R
  /** The scope's causal token, as `router.token()` inside it gives it. */
  token(): Promise<string | undefined>
  /** Whether the scope has nothing to see yet (no token continued from, no write completed): no token then. */
  readonly empty: boolean
}
