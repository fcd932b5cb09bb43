/**
 * What the job helpers need of a router: its read-your-writes sessions, their tokens and reads. A structural
 * subset of `Router` from `@pgroute/core`, so a router from another copy of the core package fits as well.
 */
export interface SessionRouter {
  /**
   * Runs `fn` in a read-your-writes scope, continuing from `token`, or reading on the primary with
   * `readOnPrimary` (see `Router.session`).
   */
  session<T>(
    fn: () => T | Promise<T>,
    options?: { readonly token?: string; readonly readOnPrimary?: boolean },
  ): Promise<T>
  /** The current scope's causal token, or `undefined` outside a scope or before it has anything to see. */
  token(): Promise<string | undefined>
  /** Runs one statement where the router sends it. */
  query(sql: string): Promise<{ readonly rows: readonly unknown[] }>
}
