import { type BuildAppOptions, buildService, postRoutes } from '@pgroute-examples/shared'
import type { FastifyInstance } from 'fastify'
import { createDatabase } from './database.js'
import { postQueries } from './post-queries.js'
import { ensureSchema } from './schema-migration.js'

export type { BuildAppOptions } from '@pgroute-examples/shared'
export { NODE_HEADER, TOKEN_HEADER } from '@pgroute-examples/shared'
export type { Database } from './database.js'
export * as schema from './database-schema.js'
export { ensureSchema } from './schema-migration.js'

/**
 * Builds the posts-and-comments service on Drizzle: creates the schema (on the primary), then returns the Fastify
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
  const db = createDatabase(options.router)
  return buildService({
    ...options,
    migrate: () => ensureSchema(db),
    routes: (app) => postRoutes(app, postQueries(db)),
  })
}
