import { ConfigError } from '@pgroute/core'
import type pg from 'pg'

/**
 * The parts of a pgroute `Router` (from `createRouter()` of `@pgroute/core`) this package uses. It is checked by
 * shape, not by class, so a router from another copy of `@pgroute/core` works too.
 */
export interface PgRouteRouterLike {
  /** The routing `pg.Pool` (`RoutedPool`): every statement goes where its SQL text calls for. */
  readonly pool: pg.Pool
  /** The `pg.Pool` whose statements all run on the primary, its writes seen by sessions (see `Router#primary`). */
  readonly primary: pg.Pool
  /** Read-your-writes scope (see `Router#session`). */
  session<T>(fn: () => T | Promise<T>, options?: { readonly token?: string }): Promise<T>
  /** Where the router sends `sql` (see `Router#classify`). */
  classify(sql: string): { readonly target: 'primary' | 'replica' }
}

/** A client of `router.pool.connect()`: a `RoutedClient`, which can be pinned to the primary up front. */
export interface PinnableClient extends pg.PoolClient {
  /** Pins the client to a node of this role before its first statement (`RoutedClient#pin`). */
  pin(target: 'primary' | 'replica'): Promise<void>
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== 'Object' ? `an instance of ${name}` : 'an object'
}

function isPoolLike(value: unknown): value is pg.Pool {
  const pool = value as Partial<pg.Pool> | null | undefined
  return (
    typeof pool?.query === 'function' && typeof pool.connect === 'function' && typeof pool.end === 'function'
  )
}

/**
 * Throws a `ConfigError` (option `router`) unless `router` looks like a pgroute `Router`: `pool` and `primary`
 * pools, `session()` and `classify()`.
 */
export function assertRouter(router: unknown): asserts router is PgRouteRouterLike {
  const expected = 'expected a pgroute Router (createRouter() of @pgroute/core)'
  if (typeof router !== 'object' || router === null) {
    throw new ConfigError('router', `${expected}, got ${describe(router)}`)
  }
  const candidate = router as Partial<Record<keyof PgRouteRouterLike, unknown>>
  const missing = [
    !isPoolLike(candidate.pool) && '`pool` (a pg.Pool)',
    !isPoolLike(candidate.primary) && '`primary` (a pg.Pool)',
    typeof candidate.session !== 'function' && '`session()`',
    typeof candidate.classify !== 'function' && '`classify()`',
  ].filter(Boolean)
  if (missing.length > 0) {
    const hint =
      typeof (candidate as { totalCount?: unknown }).totalCount === 'number'
        ? ' (this looks like a pg.Pool: pass the router itself, not router.pool)'
        : ''
    throw new ConfigError('router', `${expected}: ${describe(router)} has no ${missing.join(', ')}${hint}`)
  }
}
