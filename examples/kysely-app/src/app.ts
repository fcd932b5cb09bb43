import { PgRouteDialect } from '@pgroute/kysely'
import { type BuildAppOptions, buildService, postRoutes } from '@pgroute-examples/shared'
import type { FastifyInstance } from 'fastify'
import { CamelCasePlugin, Kysely } from 'kysely'
import type { Database } from './database.js'
import { postQueries } from './post-queries.js'
import { migrate } from './schema-migration.js'

export type { BuildAppOptions } from '@pgroute-examples/shared'
export { NODE_HEADER, TOKEN_HEADER } from '@pgroute-examples/shared'
export type { Database } from './database.js'
export { migrate } from './schema-migration.js'

/**
 * Builds the posts-and-comments service on Kysely: creates the schema (on the primary), then returns the Fastify
 * instance, not yet listening. Every request runs in a read-your-writes session carried by `x-pgroute-token`.
 *
 * @example
 * ```ts
 * const router = createRouter({ primary: PRIMARY_URL, replicas: [REPLICA_URL] })
 * await router.ready()
 * const app = await buildApp({ router })
 * await app.listen({ port: 3000 })
 * ```
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const db = new Kysely<Database>({
    dialect: new PgRouteDialect({ router: options.router }),
    plugins: [new CamelCasePlugin()],
  })
  return buildService({
    ...options,
    migrate: () => migrate(db),
    routes: (app) => postRoutes(app, postQueries(db)),
  })
}
