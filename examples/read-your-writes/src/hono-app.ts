import type { Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/hono'
import { Hono } from 'hono'

/** POST /posts and GET /posts/:id (`servedBy`: the port of the server that answered the read). */
export function postRoutes(router: Router): Hono {
  const routes = new Hono()
  routes.post('/posts', async (c) => {
    const { title } = await c.req.json<{ title: string }>()
    const { rows } = await router.query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [title])
    return c.json(rows[0], 201)
  })
  routes.get('/posts/:id', async (c) => {
    const { rows } = await router.query(
      'SELECT id, title, inet_server_port() AS "servedBy" FROM posts WHERE id = $1',
      [Number(c.req.param('id'))],
    )
    return rows[0] ? c.json(rows[0]) : c.json({ message: 'No such post' }, 404)
  })
  return routes
}

/** The app (serve it with @hono/node-server): every request runs in a router.session(). */
export function honoApp(router: Router): Hono {
  const app = new Hono()
  app.use(readYourWrites({ router })) // answers each request with its new x-pgroute-token
  app.route('/', postRoutes(router))
  return app
}
