import { createRouter, type Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/next'

let router: Router | undefined

/**
 * The server's router, created on first use: `next build` loads route modules too, where no database is
 * configured. Module state lives as long as the Next.js server process.
 */
export function getRouter(): Router {
  router ??= createRouter({
    primary: process.env.PGROUTE_PRIMARY_URL,
    replicas: (process.env.PGROUTE_REPLICA_URLS ?? '').split(',').filter(Boolean),
  })
  return router
}

/** Wraps a route handler: it runs in a router.session() continuing from the x-pgroute-token the client sent. */
export const withSession = readYourWrites({ router: getRouter })
