import type { Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/fastify'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'

/** POST /posts and GET /posts/:id (`servedBy`: the port of the server that answered the read). */
export const postRoutes: FastifyPluginAsync<{ router: Router }> = async (app, { router }) => {
  app.post<{ Body: { title: string } }>('/posts', async (request, reply) => {
    const { rows } = await router.query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [
      request.body.title,
    ])
    return reply.code(201).send(rows[0])
  })
  app.get<{ Params: { id: string } }>('/posts/:id', async (request, reply) => {
    const { rows } = await router.query(
      'SELECT id, title, inet_server_port() AS "servedBy" FROM posts WHERE id = $1',
      [Number(request.params.id)],
    )
    return rows[0] ?? reply.code(404).send({ message: 'No such post' })
  })
}

/** The app: every request runs in a router.session() continuing from the x-pgroute-token it sent. */
export async function fastifyApp(router: Router): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(readYourWrites, { router }) // before the routes and hooks that query
  await app.register(postRoutes, { router })
  return app
}
