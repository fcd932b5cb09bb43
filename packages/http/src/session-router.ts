/**
 * What the integrations need of a router: its read-your-writes sessions and their tokens. A structural subset of
 * `Router` from `@pgroute/core`, so a router from another copy of the core package fits as well.
 */
export interface SessionRouter {
  /** Runs `fn` in a read-your-writes scope, continuing from `token` (see `Router.session`). */
  session<T>(fn: () => T | Promise<T>, options?: { readonly token?: string }): Promise<T>
  /** The current scope's causal token, or `undefined` outside a scope or before it has anything to see. */
  token(): Promise<string | undefined>
}
