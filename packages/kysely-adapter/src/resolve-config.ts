import { ConfigError, type Router } from '@pgroute/core'
import type { PostgresCursorConstructor } from 'kysely'
import type { PgRouteDialectConfig } from './pgroute-dialect-config.js'

/** {@link PgRouteDialectConfig} validated, with defaults applied. */
export interface ResolvedConfig {
  readonly router: Router
  /** `undefined`: load pg-cursor when the driver starts. */
  readonly cursor: PostgresCursorConstructor | null | undefined
  readonly endRouterOnDestroy: boolean
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

/** Checks the dialect options up front: a bad value throws a `ConfigError` naming it. */
export function resolveConfig(config: PgRouteDialectConfig): ResolvedConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError('config', `expected an object like { router }, got ${describe(config)}`)
  }
  const { router, cursor, endRouterOnDestroy = true } = config
  // Duck-typed rather than `instanceof`, so a router from another copy of @pgroute/core is accepted.
  const candidate = router as Partial<Router> | undefined
  if (
    typeof candidate?.connect !== 'function' ||
    typeof candidate.classify !== 'function' ||
    typeof candidate.end !== 'function'
  ) {
    throw new ConfigError(
      'router',
      `expected a Router from createRouter() of @pgroute/core, got ${describe(router)}`,
    )
  }
  if (cursor !== undefined && cursor !== null && typeof cursor !== 'function') {
    throw new ConfigError('cursor', `expected pg-cursor's Cursor class or null, got ${describe(cursor)}`)
  }
  if (typeof endRouterOnDestroy !== 'boolean') {
    throw new ConfigError('endRouterOnDestroy', `expected a boolean, got ${describe(endRouterOnDestroy)}`)
  }
  return { router, cursor, endRouterOnDestroy }
}
