import type { Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/fastify'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { healthRoute } from './health-route.js'
import { statusRoute } from './status-route.js'

/** Options of an example app's `buildApp()`. */
export interface BuildAppOptions {
  /** The router to run every statement through. The app never ends it: its creator does. */
  readonly router: Router
  /** Fastify's logger setting. Default false. */
  readonly logger?: FastifyServerOptions['logger']
}

/** An example app's `buildApp()`: the service, schema created, not yet listening. */
export type BuildApp = (options: BuildAppOptions) => Promise<FastifyInstance>

/** Options of {@link buildService}: the app's options plus what its ORM provides. */
export interface BuildServiceOptions extends BuildAppOptions {
  /** Creates the app's tables on the primary (idempotent). */
  readonly migrate: () => Promise<void>
  /** Registers the app's own routes. */
  readonly routes: (app: FastifyInstance) => void
}

/**
 * The part of every example app that does not depend on its ORM: runs `migrate` in a session whose token becomes
 * the floor of every request, then returns a Fastify instance with read-your-writes, the app's routes,
 * `GET /status` and `GET /health`.
 *
 * @example
 * ```ts
 * export const buildApp: BuildApp = (options) => {
 *   const db = createDatabase(options.router)
 *   return buildService({ ...options, migrate: () => migrate(db), routes: (app) => postRoutes(app, db) })
 * }
 * ```
 */
export async function buildService(options: BuildServiceOptions): Promise<FastifyInstance> {
  const { router, logger = false, migrate, routes } = options
  // The schema is the app's own write: every request starts from its token, so no read can reach a replica
  // that has not created the tables yet.
  const baseline = await router.session(async () => {
    await migrate()
    return router.token()
  })
  const app = Fastify({ logger })
  // Every request runs in router.session(), continuing from the baseline and the client's x-pgroute-token.
  await app.register(readYourWrites, { router, baseline })
  routes(app)
  statusRoute(app, router)
  healthRoute(app, router)
  return app
}
