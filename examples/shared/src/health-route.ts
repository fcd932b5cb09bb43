import type { Router } from '@pgroute/core'
import type { FastifyInstance } from 'fastify'

/**
 * `GET /health`: the router's health for a readiness probe: 200 when it can serve, 503 when it cannot, the body
 * naming each node that is not up (`router.health()`, free of credentials).
 */
export function healthRoute(app: FastifyInstance, router: Router): void {
  app.get('/health', async (_request, reply) => {
    const health = router.health()
    return reply.code(health.ok ? 200 : 503).send(health)
  })
}
