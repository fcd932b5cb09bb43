import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import type { Router } from '@pgroute/core'
import { Hono } from 'hono'
import { stream } from 'hono/streaming'
import { expect, it } from 'vitest'
import { readYourWrites } from '../src/hono.js'
import { call, describeFramework } from './helpers/framework-contract.js'
import { close, listen } from './helpers/harness.js'

/** A queue shared by all requests, served by a timer of its own (see the Fastify test). */
function sharedQueue() {
  const waiting: Array<() => void> = []
  const timer = setInterval(() => {
    for (const resume of waiting.splice(0)) resume()
  }, 5)
  return { wait: () => new Promise<void>((resume) => waiting.push(resume)), stop: () => clearInterval(timer) }
}

/** The contract's routes, plus Hono's own ways of answering, served by @hono/node-server. */
async function honoApp(router: Router) {
  const queue = sharedQueue()
  const app = new Hono()
  app.use(readYourWrites({ router, cookie: true }))
  app.use('/queued/*', async (_c, next) => {
    await queue.wait()
    await next()
  })
  app.post('/notes', async (c) => {
    const { body } = await c.req.json<{ body: string }>()
    const { rows } = await router.query('INSERT INTO notes (body) VALUES ($1) RETURNING id', [body])
    return c.json({ id: rows[0]!.id }, 201)
  })
  app.get('/notes/:id', async (c) => {
    const { rows } = await router.query('SELECT body, inet_server_port() AS port FROM notes WHERE id = $1', [
      Number(c.req.param('id')),
    ])
    return rows[0] ? c.json(rows[0]) : c.json({ message: 'not found' }, 404)
  })
  const session = async (c: { req: { method: string; json(): Promise<unknown> } }) => {
    if (c.req.method === 'POST') await c.req.json()
    return { token: (await router.token()) ?? null }
  }
  app.on(['GET', 'POST'], '/session', async (c) => c.json(await session(c)))
  app.post('/queued/session', async (c) => c.json(await session(c)))
  app.get('/redirect', () => Response.redirect('http://127.0.0.1/elsewhere', 302))
  app.get('/stream', (c) =>
    stream(c, async (out) => {
      await out.write('one,')
      await out.sleep(10)
      await out.write('two')
    }),
  )
  app.get('/fails', () => {
    throw new Error('handler failed')
  })
  // With Node's own Response (the adapter's replacement has mutable headers even for Response.redirect()).
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server
  const base = await listen(server)
  return {
    base,
    async stop() {
      queue.stop()
      await close(server)
    },
  }
}

describeFramework(
  'hono',
  ({ router }) => honoApp(router),
  ({ app }) => {
    it('keeps the session across a middleware that resumed from a shared queue', async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'queued' } })
      const answer = await call(app().base, '/queued/session', { body: { any: 'body' }, token: token! })
      expect(answer.body).toEqual({ token })
    })

    it.each([
      ['an immutable Response (Response.redirect)', '/redirect', 302, ''],
      ['a streamed answer', '/stream', 200, 'one,two'],
      ["the error handler's 500", '/fails', 500, 'Internal Server Error'],
    ])('answers %s with the token', async (_what, path, status, body) => {
      const { token } = await call(app().base, '/notes', { body: { body: path } })
      const answer = await call(app().base, path, { token: token! })
      expect(answer.status).toBe(status)
      expect(answer.body).toBe(body)
      expect(answer.token).toBe(token)
      expect(answer.cookie).toBe(`pgroute-token=${token}; Path=/; HttpOnly; SameSite=Lax`)
    })
  },
)
