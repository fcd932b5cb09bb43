import type { Router } from '@pgroute/core'
import { PgRouteDialect } from '@pgroute/kysely'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { CamelCasePlugin, Kysely } from 'kysely'
import type { Database } from './database.js'
import { postRoutes } from './post-routes.js'
import { readYourWrites } from './read-your-writes.js'
import { migrate } from './schema-migration.js'
import { statusRoute } from './status-route.js'

export type { Database } from './database.js'
export { TOKEN_HEADER } from './read-your-writes.js'
export { migrate } from './schema-migration.js'
export { NODE_HEADER } from './served-by.js'

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** The router to run every statement through. The app never ends it: its creator does. */
  readonly router: Router
  /** Fastify's logger setting. Default false. */
  readonly logger?: FastifyServerOptions['logger']
}

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
  const { router, logger = false } = options
  const db = new Kysely<Database>({
    dialect: new PgRouteDialect({ router }),
    plugins: [new CamelCasePlugin()],
  })
  // The schema is the app's own write: every request starts from its token, so no read can reach a replica
  // that has not created the tables yet.
  const baseline = await router.session(async () => {
    await migrate(db)
    return router.token()
  })
  const app = Fastify({ logger })
  readYourWrites(app, { router, baseline })
  postRoutes(app, db)
  statusRoute(app, router)
  return app
}
