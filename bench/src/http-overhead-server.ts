/**
 * A child process of `http-overhead.ts`: one HTTP server (a framework, with or without `@pgroute/http`'s
 * read-your-writes middleware) answering `GET /ping` without touching the database, and its own CPU time on
 * request. Not a bench itself.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { createRouter } from '@pgroute/core'
import { readYourWrites as expressReadYourWrites } from '@pgroute/http/express'
import { readYourWrites as fastifyReadYourWrites } from '@pgroute/http/fastify'
import { readYourWrites as honoReadYourWrites } from '@pgroute/http/hono'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'

/** What the parent asks for. */
export interface ServerSpec {
  readonly framework: 'express' | 'fastify' | 'hono'
  /**
   * The read-your-writes middleware, a middleware that only passes the request on (`no-op`: what the framework
   * charges for a middleware at all), one that passes it on inside `AsyncLocalStorage.run()` of a store of its
   * own (`als-run`: the least any middleware that carries a per-request value in the async context costs), or
   * none.
   */
  readonly middleware: 'readYourWrites' | 'no-op' | 'als-run' | 'none'
  /**
   * Run one `router.session()` at start-up, without the middleware: Node 20 turns on its async hooks for
   * AsyncLocalStorage on first use, after which every promise of the process costs a little more. An application
   * using sessions anywhere (or any AsyncLocalStorage: OpenTelemetry, request-scoped loggers) pays that already.
   */
  readonly asyncContext: boolean
  readonly primary: string
  readonly replicas: readonly string[]
}

type Request = { type: 'cpu' } | { type: 'close' }

const spec = JSON.parse(process.env.BENCH_HTTP_SERVER ?? '{}') as ServerSpec
// Generous probe limits: on a loaded machine a 500 ms probe can time out, and no request here waits on a probe.
const router = createRouter({
  primary: spec.primary,
  replicas: [...spec.replicas],
  healthCheck: { intervalMs: 2000, timeoutMs: 1500 },
})
await router.ready()
if (spec.asyncContext) await router.session(() => undefined)
const pong = { ok: true }
/** The `als-run` middleware's storage: a new store per request, as a session middleware makes one. */
const storage = new AsyncLocalStorage<{ readonly request: number }>()
let requests = 0

async function start(): Promise<{ port: number; close: () => Promise<void> }> {
  if (spec.framework === 'fastify') {
    const app = Fastify()
    if (spec.middleware === 'readYourWrites') await app.register(fastifyReadYourWrites, { router })
    if (spec.middleware === 'no-op') app.addHook('onRequest', (_request, _reply, next) => next())
    if (spec.middleware === 'als-run') {
      app.addHook('onRequest', (_request, _reply, next) => storage.run({ request: requests++ }, next))
    }
    app.get('/ping', async () => pong)
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
  }
  let server: Server
  if (spec.framework === 'express') {
    const app = express()
    if (spec.middleware === 'readYourWrites') app.use(expressReadYourWrites({ router }))
    if (spec.middleware === 'no-op') app.use((_req, _res, next) => next())
    if (spec.middleware === 'als-run')
      app.use((_req, _res, next) => storage.run({ request: requests++ }, next))
    app.get('/ping', (_req, res) => {
      res.json(pong)
    })
    server = createServer(app)
  } else {
    const app = new Hono()
    if (spec.middleware === 'readYourWrites') app.use(honoReadYourWrites({ router }))
    if (spec.middleware === 'no-op') app.use((_c, next) => next())
    if (spec.middleware === 'als-run') app.use((_c, next) => storage.run({ request: requests++ }, next))
    app.get('/ping', (c) => c.json(pong))
    server = createAdaptorServer({ fetch: app.fetch }) as Server
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const { port, close } = await start()
process.on('message', async (request: Request) => {
  if (request.type === 'cpu') {
    process.send!({ type: 'cpu', ...process.cpuUsage() })
    return
  }
  await close()
  await router.end()
  process.disconnect()
})
process.send!({ type: 'listening', port })
