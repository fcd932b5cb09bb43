import type { FastifyInstance } from 'fastify'
import { reportServedBy } from './served-by.js'

/** A row selected with `servedBy`, the `host:port` of the server that produced it (`SERVED_BY_SQL`). */
export interface ServedRow {
  readonly servedBy: string
}

/**
 * The statements behind the post routes, one per method, written with the app's ORM. Each selects `servedBy`
 * alongside its data so `x-pgroute-node` names the server that produced the whole answer.
 */
export interface PostQueries {
  /** Inserts a post and returns its row (`id`, `title`, `body`, `createdAt`). */
  createPost(post: { readonly title: string; readonly body: string }): Promise<ServedRow>
  /** The newest `limit` posts, newest first. */
  listPosts(limit: number): Promise<readonly ServedRow[]>
  /** The post with its `comments` (oldest first) in one statement, or undefined. */
  findPost(id: number): Promise<ServedRow | undefined>
  /**
   * Inserts a comment and returns its row (`id`, `postId`, `body`, `createdAt`). Rejects with the database's
   * foreign-key violation (SQLSTATE 23503, possibly as the `cause` of an ORM error) when the post does not exist.
   */
  createComment(comment: { readonly postId: number; readonly body: string }): Promise<ServedRow>
}

const FOREIGN_KEY_VIOLATION = '23503'
const NOT_FOUND = { statusCode: 404, error: 'Not Found', message: 'No such post' } as const

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const

/** The SQLSTATE of a database error, found on the error or along its `cause` chain (where ORMs wrap it). */
function sqlState(error: unknown): unknown {
  for (let e = error; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const { code } = e as { code?: unknown }
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  }
  return undefined
}

/**
 * Posts and their comments: `POST /posts`, `GET /posts`, `GET /posts/:id` (with its comments) and
 * `POST /posts/:id/comments`. Each handler runs one statement of `queries`; pgroute sends writes to the primary
 * and reads to a replica that has replayed the session's writes.
 *
 * @example
 * ```ts
 * postRoutes(app, postQueries(db))
 * ```
 */
export function postRoutes(app: FastifyInstance, queries: PostQueries): void {
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
      const row = await queries.createPost({ title: request.body.title, body: request.body.body })
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
    async (request, reply) => ({
      posts: reportServedBy(reply, await queries.listPosts(request.query.limit)),
    }),
  )

  app.get<{ Params: { id: number } }>(
    '/posts/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const row = await queries.findPost(request.params.id)
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
        const row = await queries.createComment({ postId: request.params.id, body: request.body.body })
        reply.code(201)
        return { comment: reportServedBy(reply, [row])[0] }
      } catch (error) {
        if (sqlState(error) !== FOREIGN_KEY_VIOLATION) throw error
        reply.code(404)
        return NOT_FOUND
      }
    },
  )
}
