import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isConfigError } from '@pgroute/core'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { readYourWrites as expressReadYourWrites } from '../src/express.js'
import { readYourWrites as fastifyReadYourWrites } from '../src/fastify.js'
import { readYourWrites as honoReadYourWrites } from '../src/hono.js'
import { readYourWrites as nextReadYourWrites } from '../src/next.js'
import { resolveOptions } from '../src/resolve-options.js'
import type { SessionRouter } from '../src/session-router.js'

/**
 * A router whose `token()` fails, as the real one does when the primary fails under the lookup of its WAL
 * position after a write (no database is needed to show what the integrations then do). `wrote`: whether its
 * sessions are ones that wrote (not `empty`), whose token is asked for after the handler.
 */
function failingRouter(wrote = true): SessionRouter {
  const token = () => Promise.reject(new Error('the primary went away'))
  return {
    session: (fn) => Promise.resolve().then(fn),
    token,
    openSession: () => ({ run: (fn, ...args) => fn(...args), token, empty: !wrote }),
  }
}

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

async function listen(server: Server): Promise<string> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

type Start = (router: SessionRouter, onTokenError: (error: unknown) => void) => Promise<string>

/** Each integration's server answering `GET /` with `{ done: true }`, without touching the router. */
const starters: Array<[string, Start]> = [
  [
    'express',
    async (router, onTokenError) => {
      const app = express()
      app.use(expressReadYourWrites({ router, onTokenError }))
      app.get('/', (_req, res) => {
        res.json({ done: true })
      })
      return listen(createServer(app))
    },
  ],
  [
    'fastify',
    async (router, onTokenError) => {
      const app = Fastify()
      await app.register(fastifyReadYourWrites, { router, onTokenError })
      app.get('/', async () => ({ done: true }))
      await app.ready()
      return listen(app.server)
    },
  ],
  [
    'hono',
    async (router, onTokenError) => {
      const app = new Hono()
      app.use(honoReadYourWrites({ router, onTokenError }))
      app.get('/', (c) => c.json({ done: true }))
      return listen(
        createServer(async (req, res) => {
          const answer = await app.fetch(new Request(`http://x${req.url}`))
          res.writeHead(answer.status, Object.fromEntries(answer.headers))
          res.end(await answer.text())
        }),
      )
    },
  ],
  [
    'next',
    async (router, onTokenError) => {
      const handler = nextReadYourWrites({ router, onTokenError })(async () => Response.json({ done: true }))
      return listen(
        createServer(async (req, res) => {
          const answer = await handler(new Request(`http://x${req.url}`), {})
          res.writeHead(answer.status, Object.fromEntries(answer.headers))
          res.end(await answer.text())
        }),
      )
    },
  ],
]

describe('when the token cannot be had after the handler', () => {
  it.each(starters)('%s: answers without it, and reports the error', async (_name, start) => {
    const errors: unknown[] = []
    const base = await start(failingRouter(), (error) => errors.push(error))
    const answer = await fetch(base)
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ done: true })
    expect(answer.headers.get('x-pgroute-token')).toBeNull()
    expect(errors).toEqual([new Error('the primary went away')])
  })
})

describe('a request with nothing to see (no token sent, no write)', () => {
  it.each(starters)('%s: is answered at once, its token never asked for', async (_name, start) => {
    const errors: unknown[] = []
    const base = await start(failingRouter(false), (error) => errors.push(error))
    const answer = await fetch(base)
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ done: true })
    expect(answer.headers.get('x-pgroute-token')).toBeNull()
    expect(errors).toEqual([])
  })
})

describe('a router given as a function', () => {
  it('is called per request, and what it returns is checked', () => {
    const router = failingRouter()
    let calls = 0
    const resolved = resolveOptions({
      router: () => {
        calls++
        return router
      },
    })
    expect(calls).toBe(0)
    expect(resolved.router()).toBe(router)
    expect(resolved.router()).toBe(router)
    expect(calls).toBe(2)
    const broken = resolveOptions({ router: () => ({}) as SessionRouter })
    let error: unknown
    try {
      broken.router()
    } catch (e) {
      error = e
    }
    expect(isConfigError(error) && error.option).toBe('router')
  })
})
