import type { Router } from '@pgroute/core'
import Fastify from 'fastify'
import { expect, it } from 'vitest'
import { readYourWrites } from '../src/fastify.js'
import { call, describeFramework } from './helpers/framework-contract.js'

declare module 'fastify' {
  interface FastifyRequest {
    seen?: Record<string, string | null>
  }
}

/**
 * A queue shared by all requests, served by a timer of its own: a callback it runs is in the timer's async
 * context, not the request's (as with a rate limiter, a connection pool or a cache of another process).
 */
function sharedQueue() {
  const waiting: Array<() => void> = []
  const timer = setInterval(() => {
    for (const resume of waiting.splice(0)) resume()
  }, 5)
  return { wait: (resume: () => void) => waiting.push(resume), stop: () => clearInterval(timer) }
}

/** The contract's routes, plus hooks and Fastify's own ways of answering. */
async function fastifyApp(router: Router) {
  const app = Fastify()
  const queue = sharedQueue()
  app.addHook('onClose', async () => queue.stop())
  await app.register(readYourWrites, { router, cookie: true })
  const see = async (request: { seen?: Record<string, string | null> }, stage: string) => {
    request.seen = { ...request.seen, [stage]: (await router.token()) ?? null }
  }
  // Hooks of every kind a request passes through, registered after the plugin as an app would.
  app.addHook('onRequest', async (request) => see(request, 'onRequest'))
  app.addHook('preValidation', async (request) => see(request, 'preValidation'))
  app.addHook('preHandler', (request, _reply, done) => {
    see(request, 'preHandler').then(() => done(), done)
  })
  // Hooks that resume from the shared queue, for the routes under /queued.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.url.startsWith('/queued')) queue.wait(done)
    else done()
  })
  app.addHook('preHandler', (request, _reply, done) => {
    if (request.url.startsWith('/queued')) queue.wait(done)
    else done()
  })
  app.post<{ Body: { body: string } }>('/notes', async (request, reply) => {
    const { rows } = await router.query('INSERT INTO notes (body) VALUES ($1) RETURNING id', [
      request.body.body,
    ])
    reply.code(201)
    return { id: rows[0]!.id }
  })
  app.get<{ Params: { id: string } }>('/notes/:id', async (request, reply) => {
    const { rows } = await router.query('SELECT body, inet_server_port() AS port FROM notes WHERE id = $1', [
      Number(request.params.id),
    ])
    if (rows[0]) return rows[0]
    return reply.code(404).send({ message: 'not found' })
  })
  app.route({
    method: ['GET', 'POST'],
    url: '/session',
    handler: async () => ({ token: (await router.token()) ?? null }),
  })
  app.post('/hooks', async (request) => ({ ...request.seen, handler: (await router.token()) ?? null }))
  app.post('/queued/hooks', async (request) => ({ ...request.seen, handler: (await router.token()) ?? null }))
  app.get('/send', (_request, reply) => {
    router.token().then((token) => reply.send({ token: token ?? null }))
  })
  app.get('/fails', async () => {
    throw new Error('handler failed')
  })
  // An encapsulated child plugin's routes are covered too.
  await app.register(
    async (child) => {
      child.get('/session', async () => ({ token: (await router.token()) ?? null }))
    },
    { prefix: '/child' },
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { base: `http://127.0.0.1:${port}`, stop: () => app.close() }
}

describeFramework(
  'fastify',
  ({ router }) => fastifyApp(router),
  ({ app }) => {
    it('runs every hook after the plugin and the handler in the session, with a parsed body', async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'hooks' } })
      const answer = await call(app().base, '/hooks', { body: { any: 'body' }, token: token! })
      expect(answer.body).toEqual({
        onRequest: token,
        preValidation: token,
        preHandler: token,
        handler: token,
      })
      const late = await call(app().base, '/hooks', { body: { any: 'body' }, token: token!, slow: true })
      expect(late.body).toEqual({ onRequest: token, preValidation: token, preHandler: token, handler: token })
    })

    it('re-enters the session after a hook that resumed from a shared queue', async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'queued' } })
      const answer = await call(app().base, '/queued/hooks', { body: { any: 'body' }, token: token! })
      expect(answer.body).toEqual({
        onRequest: token,
        preValidation: token,
        preHandler: token,
        handler: token,
      })
    })

    it('answers reply.send() from the handler with the token', async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'send' } })
      const answer = await call(app().base, '/send', { token: token! })
      expect(answer.body).toEqual({ token })
      expect(answer.token).toBe(token)
    })

    it("answers the error handler's 500 with the token", async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'error' } })
      const answer = await call(app().base, '/fails', { token: token! })
      expect(answer.status).toBe(500)
      expect(answer.token).toBe(token)
    })

    it('covers the routes of an encapsulated child plugin', async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'child' } })
      const answer = await call(app().base, '/child/session', { token: token! })
      expect(answer.body).toEqual({ token })
      expect(answer.token).toBe(token)
    })
  },
)
