import type { Router } from '@pgroute/core'
import type { FastifyInstance } from 'fastify'

/** `GET /status`: the router's node table (state, lag, traffic). pgroute keeps credentials out of it. */
export function statusRoute(app: FastifyInstance, router: Router): void {
  app.get('/status', async () => ({ nodes: router.status() }))
}
