// ORM-independent parts of the example apps. The integration suite is a separate export
// (`@pgroute-examples/shared/example-app-suite`) so that running an app never loads vitest.

export { TOKEN_HEADER } from '@pgroute/http'
export { type DatabaseNodes, databaseNodes } from './database-nodes.js'
export { healthRoute } from './health-route.js'
export { type PostQueries, postRoutes, type ServedRow } from './post-routes.js'
export { NODE_HEADER, reportServedBy, SERVED_BY_SQL } from './served-by.js'
export {
  type BuildApp,
  type BuildAppOptions,
  type BuildServiceOptions,
  buildService,
} from './service-builder.js'
export { type RunServiceOptions, runService } from './service-runner.js'
export { statusRoute } from './status-route.js'
