import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import type { Router } from '@pgroute/core'
import { expect, it } from 'vitest'
import { readYourWrites } from '../src/next.js'
import { call, describeFramework } from './helpers/framework-contract.js'
import { close, listen } from './helpers/harness.js'

type Params = { params: Promise<Record<string, string>> }
type Handler = (request: Request, context: Params) => Promise<Response>

/**
 * Route modules as Next.js App Router files would export them (`app/notes/route.ts`, `app/notes/[id]/route.ts`,
 * …), each method wrapped by the integration.
 */
function routeModules(router: Router): Array<[RegExp, Record<string, Handler>]> {
  const withSession = readYourWrites({ router, cookie: true })
  const session = withSession(async (request: Request) => {
    if (request.method === 'POST') await request.json()
    return Response.json({ token: (await router.token()) ?? null })
  })
  return [
    [
      /^\/notes$/,
      {
        POST: withSession(async (request: Request) => {
          const { body } = (await request.json()) as { body: string }
          const { rows } = await router.query('INSERT INTO notes (body) VALUES ($1) RETURNING id', [body])
          return Response.json({ id: rows[0]!.id }, { status: 201 })
        }),
      },
    ],
    [
      /^\/notes\/(?<id>\d+)$/,
      {
        GET: withSession(async (_request: Request, { params }: Params) => {
          const { id } = await params
          const { rows } = await router.query(
            'SELECT body, inet_server_port() AS port FROM notes WHERE id = $1',
            [Number(id)],
          )
          return rows[0] ? Response.json(rows[0]) : Response.json({ message: 'not found' }, { status: 404 })
        }),
      },
    ],
    [/^\/session$/, { GET: session, POST: session }],
    [/^\/redirect$/, { GET: withSession(async () => Response.redirect('http://127.0.0.1/elsewhere', 302)) }],
    [
      /^\/upstream$/,
      {
        // A response from fetch() has immutable headers too.
        GET: withSession(async (request: Request) => fetch(new URL('/session', request.url))),
      },
    ],
  ]
}

/** Serves the route modules over HTTP the way Next.js calls them: a Request and `{ params }`. */
async function nextApp(router: Router) {
  const routes = routeModules(router)
  const server = createAdaptorServer({
    // Next.js uses Node's own Request and Response: keep the adapter from replacing them with its own.
    overrideGlobalObjects: false,
    fetch: async (request: Request) => {
      const { pathname } = new URL(request.url)
      for (const [pattern, methods] of routes) {
        const match = pattern.exec(pathname)
        const handler = match && methods[request.method]
        if (handler) return handler(request, { params: Promise.resolve({ ...match.groups }) })
      }
      return new Response('not found', { status: 404 })
    },
  }) as Server
  const base = await listen(server)
  return { base, stop: () => close(server) }
}

describeFramework(
  'next route handlers',
  ({ router }) => nextApp(router),
  ({ app }) => {
    it.each([
      ['Response.redirect()', '/redirect', 302],
      ['a fetch() response', '/upstream', 200],
    ])('answers an immutable Response (%s) with the token', async (_what, path, status) => {
      const { token } = await call(app().base, '/notes', { body: { body: path } })
      const answer = await call(app().base, path, { token: token! })
      expect(answer.status).toBe(status)
      expect(answer.token).toBe(token)
      expect(answer.cookie).toBe(`pgroute-token=${token}; Path=/; HttpOnly; SameSite=Lax`)
    })
  },
)
