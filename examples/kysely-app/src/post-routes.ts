import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { jsonArrayFrom } from 'kysely/helpers/postgres'
import type { Database } from './database.js'
import { reportServedBy, servedBy } from './served-by.js'

const FOREIGN_KEY_VIOLATION = '23503'
const NOT_FOUND = { statusCode: 404, error: 'Not Found', message: 'No such post' } as const

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const

/**
 * Posts and their comments: `POST /posts`, `GET /posts`, `GET /posts/:id` (with its comments) and
 * `POST /posts/:id/comments`. Each handler is one statement; pgroute sends writes to the primary and reads to a
 * replica that has replayed the session's writes.
 */
export function postRoutes(app: FastifyInstance, db: Kysely<Database>): void {
  app.post<{ Body: { title: string; body: string } }>(
    '/posts',
    {
      schema: {
        body: {
          type: 'object',
          required: ['title', 'body'],
          properties: { title: text(200), body: text(10_000) },
        },
      },
    },
    async (request, reply) => {
      const row = await db
        .insertInto('posts')
        .values({ title: request.body.title, body: request.body.body })
        .returning(['id', 'title', 'body', 'createdAt', servedBy.as('servedBy')])
        .executeTakeFirstOrThrow()
      reply.code(201)
      return { post: reportServedBy(reply, [row])[0] }
    },
  )

  app.get<{ Querystring: { limit: number } }>(
    '/posts',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
        },
      },
    },
    async (request, reply) => {
      const rows = await db
        .selectFrom('posts')
        .select(['id', 'title', 'body', 'createdAt', servedBy.as('servedBy')])
        .orderBy('id', 'desc')
        .limit(request.query.limit)
        .execute()
      return { posts: reportServedBy(reply, rows) }
    },
  )

  app.get<{ Params: { id: number } }>(
    '/posts/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const rows = await db
        .selectFrom('posts')
        .where('posts.id', '=', request.params.id)
        .select((eb) => [
          'posts.id',
          'posts.title',
          'posts.body',
          'posts.createdAt',
          servedBy.as('servedBy'),
          jsonArrayFrom(
            eb
              .selectFrom('comments')
              .select(['comments.id', 'comments.body', 'comments.createdAt'])
              .whereRef('comments.postId', '=', 'posts.id')
              .orderBy('comments.id'),
          ).as('comments'),
        ])
        .execute()
      const [post] = reportServedBy(reply, rows)
      if (post) return { post }
      reply.code(404)
      return NOT_FOUND
    },
  )

  app.post<{ Params: { id: number }; Body: { body: string } }>(
    '/posts/:id/comments',
    {
      schema: {
        params: idParams,
        body: { type: 'object', required: ['body'], properties: { body: text(10_000) } },
      },
    },
    async (request, reply) => {
      try {
        const row = await db
          .insertInto('comments')
          .values({ postId: request.params.id, body: request.body.body })
          .returning(['id', 'postId', 'body', 'createdAt', servedBy.as('servedBy')])
          .executeTakeFirstOrThrow()
        reply.code(201)
        return { comment: reportServedBy(reply, [row])[0] }
      } catch (error) {
        if ((error as { code?: unknown }).code !== FOREIGN_KEY_VIOLATION) throw error
        reply.code(404)
        return NOT_FOUND
      }
    },
  )
}
