import type { Router } from '@pgroute/core'
import type { PostgresCursorConstructor } from 'kysely'

/** Options of {@link PgRouteDialect}. Validated once, when the dialect is created. */
export interface PgRouteDialectConfig {
  /** The router (from `createRouter()` of `@pgroute/core`) whose nodes the queries run on. */
  readonly router: Router
  /**
   * The `Cursor` class of [pg-cursor](https://github.com/brianc/node-postgres/tree/master/packages/pg-cursor),
   * needed by `.stream()`. Default: `pg-cursor` when it is installed. `null` turns streaming off.
   */
  readonly cursor?: PostgresCursorConstructor | null
  /**
   * Whether `db.destroy()` ends the router (its health checks and every pool it created), as `PostgresDialect`
   * ends its pool. Default `true`; set `false` when the router outlives this Kysely instance.
   */
  readonly endRouterOnDestroy?: boolean
}
