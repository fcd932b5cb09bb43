import type { Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/express'
import express from 'express'

/** POST /posts and GET /posts/:id (`servedBy`: the port of the server that answered the read). */
export function postRoutes(router: Router): express.Router {
  const routes = express.Router()
  routes.use(express.json())
  routes.post('/posts', async (req, res) => {
    const { rows } = await router.query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [
      req.body.title,
    ])
    res.status(201).json(rows[0])
  })
  routes.get('/posts/:id', async (req, res) => {
    const { rows } = await router.query(
      'SELECT id, title, inet_server_port() AS "servedBy" FROM posts WHERE id = $1',
      [Number(req.params.id)],
    )
    if (rows[0]) res.json(rows[0])
    else res.status(404).json({ message: 'No such post' })
  })
  return routes
}

/** The app: every request runs in a router.session() continuing from the x-pgroute-token it sent. */
export function expressApp(router: Router): express.Express {
  const app = express()
  app.use(readYourWrites({ router })) // before the routes; answers each request with its new x-pgroute-token
  app.use(postRoutes(router))
  return app
}
