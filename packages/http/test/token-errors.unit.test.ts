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
 * position after a write (no database is needed to show what the integrations then do).
 */
function failingRouter(): SessionRouter {
  return {
    session: (fn) => Promise.resolve().then(fn),
    token: () => Promise.reject(new Error('the primary went away')),
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

describe('when the token cannot be had after the handler', () => {
  it.each([
    [
      'express',
      async (onTokenError: (error: unknown) => void) => {
        const app = express()
        app.use(expressReadYourWrites({ router: failingRouter(), onTokenError }))
        app.get('/', (_req, res) => {
          res.json({ done: true })
        })
        return listen(createServer(app))
      },
    ],
    [
      'fastify',
      async (onTokenError: (error: unknown) => void) => {
        const app = Fastify()
        await app.register(fastifyReadYourWrites, { router: failingRouter(), onTokenError })
        app.get('/', async () => ({ done: true }))
        await app.ready()
        return listen(app.server)
      },
    ],
    [
      'hono',
      async (onTokenError: (error: unknown) => void) => {
        const app = new Hono()
        app.use(honoReadYourWrites({ router: failingRouter(), onTokenError }))
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
      async (onTokenError: (error: unknown) => void) => {
        const handler = nextReadYourWrites({ router: failingRouter(), onTokenError })(async () =>
          Response.json({ done: true }),
        )
        return listen(
          createServer(async (req, res) => {
            const answer = await handler(new Request(`http://x${req.url}`), {})
            res.writeHead(answer.status, Object.fromEntries(answer.headers))
            res.end(await answer.text())
          }),
        )
      },
    ],
  ])('%s: answers without it, and reports the error', async (_name, start) => {
    const errors: unknown[] = []
    const base = await start((error) => errors.push(error))
    const answer = await fetch(base)
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ done: true })
    expect(answer.headers.get('x-pgroute-token')).toBeNull()
    expect(errors).toEqual([new Error('the primary went away')])
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
