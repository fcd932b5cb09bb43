import { createServer, type Server } from 'node:http'
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CBaggagePropagator } from '@opentelemetry/core'
import { routerOptions } from '@pgroute/cluster/testing'
import { createRouter, isToken, type Router } from '@pgroute/core'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readYourWrites } from '../src/express.js'
import { fetchWithToken, tokenHeaders } from '../src/index.js'
import { BAGGAGE_KEY, tokenFromBaggage, withTokenInBaggage } from '../src/opentelemetry.js'
import { close, type Harness, listen, startHarness } from './helpers/harness.js'

const ITERATIONS = 30

let h: Harness
/** The router of service B (another process in production: a router of its own over the same cluster). */
let routerB: Router
let serverB: Server
let baseB: string

/** What an HTTP server instrumentation does: the request runs in the context extracted from its headers. */
function tracing(req: express.Request, _res: express.Response, next: express.NextFunction) {
  context.with(propagation.extract(ROOT_CONTEXT, req.headers), next)
}

/** What a fetch instrumentation does: the active context's baggage goes out in the `baggage` header. */
function tracedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = {}
  propagation.inject(context.active(), headers)
  return fetch(url, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } })
}

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CBaggagePropagator())
  h = await startHarness([{}, { applyDelay: '2s' }])
  routerB = createRouter(routerOptions(h.cluster))
  await routerB.ready()
  // Service B reads and writes notes; it takes the token from the header or from baggage.
  const app = express()
  app.use(tracing)
  app.use(readYourWrites({ router: routerB, sources: [tokenFromBaggage] }))
  app.use(express.json())
  app.get('/notes/:id', async (req, res) => {
    const { rows } = await routerB.query('SELECT body FROM notes WHERE id = $1', [Number(req.params.id)])
    res.json({ found: rows.length === 1 })
  })
  app.post('/notes', async (req, res) => {
    const { rows } = await routerB.query('INSERT INTO notes (body) VALUES ($1) RETURNING id', [req.body.body])
    res.status(201).json({ id: rows[0]!.id })
  })
  serverB = createServer(app)
  baseB = await listen(serverB)
})

afterAll(async () => {
  if (serverB) await close(serverB)
  await routerB?.end()
  await h?.stop()
  context.disable()
  propagation.disable()
})

/** Service A's side of one request: a session in which it writes a note, then `read` asks service B for it. */
async function writeThenAskB(read: (id: number) => Promise<Response>): Promise<boolean> {
  const { router } = h
  return router.session(async () => {
    const { rows } = await router.query("INSERT INTO notes (body) VALUES ('from A') RETURNING id")
    const answer = await read(rows[0]!.id)
    return ((await answer.json()) as { found: boolean }).found
  })
}

describe('between services', () => {
  it("fetchWithToken: the service called reads the caller's write", async () => {
    const call = fetchWithToken({ router: h.router })
    for (let i = 0; i < ITERATIONS; i++) {
      expect(await writeThenAskB((id) => call(`${baseB}/notes/${id}`))).toBe(true)
    }
  })

  it('fetchWithToken: the caller reads what the service called wrote', async () => {
    const { router } = h
    const call = fetchWithToken({ router })
    for (let i = 0; i < ITERATIONS; i++) {
      const found = await router.session(async () => {
        const answer = await call(`${baseB}/notes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ body: 'from B' }),
        })
        const { id } = (await answer.json()) as { id: number }
        const { rows } = await router.query('SELECT body FROM notes WHERE id = $1', [id])
        return rows.length === 1
      })
      expect(found).toBe(true)
    }
  })

  it('fetchWithToken keeps a token the call sets itself, and tokenHeaders gives the header', async () => {
    const { router } = h
    let sent: string | null = null
    const call = fetchWithToken({
      router,
      fetch: async (_input, init) => {
        sent = new Headers(init?.headers).get('x-pgroute-token')
        return new Response('{}')
      },
    })
    await router.session(async () => {
      await router.query("INSERT INTO notes (body) VALUES ('own header')")
      const token = await router.token()
      expect(await tokenHeaders({ router })).toEqual({ 'x-pgroute-token': token })
      await call('http://service.invalid/', { headers: { 'x-pgroute-token': '0/1@1' } })
      expect(sent).toBe('0/1@1')
      await call('http://service.invalid/')
      expect(sent).toBe(token)
    })
    expect(await tokenHeaders({ router })).toEqual({})
  })

  it("OpenTelemetry baggage: the service called reads the caller's write", async () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const found = await writeThenAskB((id) =>
        withTokenInBaggage(h.router, () => tracedFetch(`${baseB}/notes/${id}`)),
      )
      expect(found).toBe(true)
    }
  })

  it('withTokenInBaggage puts the token in the active baggage, beside the entries already there', async () => {
    const { router } = h
    const outer = propagation.setBaggage(
      context.active(),
      propagation.createBaggage({ tenant: { value: 'acme' } }),
    )
    await context.with(outer, () =>
      router.session(async () => {
        await router.query("INSERT INTO notes (body) VALUES ('baggage')")
        const token = await router.token()
        const seen = await withTokenInBaggage(router, () => ({
          token: tokenFromBaggage(),
          tenant: propagation.getBaggage(context.active())?.getEntry('tenant')?.value,
        }))
        expect(isToken(seen.token)).toBe(true)
        expect(seen).toEqual({ token, tenant: 'acme' })
        expect(propagation.getBaggage(context.active())?.getEntry(BAGGAGE_KEY)).toBeUndefined()
      }),
    )
  })
})
