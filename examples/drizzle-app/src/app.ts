import type { Router } from '@pgroute/core'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { createDatabase } from './database.js'
import { postRoutes } from './post-routes.js'
import { readYourWrites } from './read-your-writes.js'
import { ensureSchema } from './schema-migration.js'
import { statusRoute } from './status-route.js'

export type { Database } from './database.js'
export * as schema from './database-schema.js'
export { TOKEN_HEADER } from './read-your-writes.js'
export { ensureSchema } from './schema-migration.js'
export { NODE_HEADER } from './served-by.js'

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** The router to run every statement through. The app never ends it: its creator does. */
  readonly router: Router
  /** Fastify's logger setting. Default false. */
  readonly logger?: FastifyServerOptions['logger']
}

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
  const { router, logger = false } = options
  const db = createDatabase(router)
  // The schema is the app's own write: every request starts from its token, so no read can reach a replica
  // that has not created the tables yet.
  const baseline = await router.session(async () => {
    await ensureSchema(db)
    return router.token()
  })
  const app = Fastify({ logger })
  readYourWrites(app, { router, baseline })
  postRoutes(app, db)
  statusRoute(app, router)
  return app
}
