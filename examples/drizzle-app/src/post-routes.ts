import { asc, desc, eq } from 'drizzle-orm'
import type { FastifyInstance } from 'fastify'
import type { Database } from './database.js'
import { comments, posts } from './database-schema.js'
import { reportServedBy, servedBy } from './served-by.js'

const FOREIGN_KEY_VIOLATION = '23503'
const NOT_FOUND = { statusCode: 404, error: 'Not Found', message: 'No such post' } as const

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const

const postColumns = { id: posts.id, title: posts.title, body: posts.body, createdAt: posts.createdAt }

/** The SQLSTATE of a database error, which Drizzle wraps in a `DrizzleQueryError` (its `cause`). */
function sqlState(error: unknown): unknown {
  for (let e = error; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const { code } = e as { code?: unknown }
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  }
  return undefined
}

/**
 * Posts and their comments: `POST /posts`, `GET /posts`, `GET /posts/:id` (with its comments) and
 * `POST /posts/:id/comments`. Each handler is one statement; pgroute sends writes to the primary and reads to a
 * replica that has replayed the session's writes.
 */
export function postRoutes(app: FastifyInstance, db: Database): void {
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
      const rows = await db
        .insert(posts)
        .values({ title: request.body.title, body: request.body.body })
        .returning({ ...postColumns, servedBy })
      reply.code(201)
      return { post: reportServedBy(reply, rows)[0] }
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
        .select({ ...postColumns, servedBy })
        .from(posts)
        .orderBy(desc(posts.id))
        .limit(request.query.limit)
      return { posts: reportServedBy(reply, rows) }
    },
  )

  app.get<{ Params: { id: number } }>(
    '/posts/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      // One statement (the relational query builder nests the comments as JSON), so one node answers all of it.
      const row = await db.query.posts.findFirst({
        where: eq(posts.id, request.params.id),
        with: {
          comments: { columns: { id: true, body: true, createdAt: true }, orderBy: [asc(comments.id)] },
        },
        extras: { servedBy: servedBy.as('served_by') },
      })
      const [post] = reportServedBy(reply, row ? [row] : [])
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
        const rows = await db
          .insert(comments)
          .values({ postId: request.params.id, body: request.body.body })
          .returning({
            id: comments.id,
            postId: comments.postId,
            body: comments.body,
            createdAt: comments.createdAt,
            servedBy,
          })
        reply.code(201)
        return { comment: reportServedBy(reply, rows)[0] }
      } catch (error) {
        if (sqlState(error) !== FOREIGN_KEY_VIOLATION) throw error
        reply.code(404)
        return NOT_FOUND
      }
    },
  )
}
