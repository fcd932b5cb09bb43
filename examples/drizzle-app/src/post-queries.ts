import type { PostQueries } from '@pgroute-examples/shared'
import { asc, desc, eq } from 'drizzle-orm'
import type { Database } from './database.js'
import { comments, posts } from './database-schema.js'
import { servedBy } from './served-by.js'

const postColumns = { id: posts.id, title: posts.title, body: posts.body, createdAt: posts.createdAt }

/**
 * The post routes' statements on Drizzle, one per method. Drizzle wraps database errors in `DrizzleQueryError`;
 * the original `pg` error (with its SQLSTATE) is its `cause`, where the routes look for it.
 */
export function postQueries(db: Database) {
  return {
    createPost: async (post) => {
      const [row] = await db
        .insert(posts)
        .values({ title: post.title, body: post.body })
        .returning({ ...postColumns, servedBy })
      return row!
    },

    listPosts: (limit) =>
      db
        .select({ ...postColumns, servedBy })
        .from(posts)
        .orderBy(desc(posts.id))
        .limit(limit),

    // One statement (the relational query builder nests the comments as JSON), so one node answers all of it.
    findPost: (id) =>
      db.query.posts.findFirst({
        where: eq(posts.id, id),
        with: {
          comments: { columns: { id: true, body: true, createdAt: true }, orderBy: [asc(comments.id)] },
        },
        extras: { servedBy: servedBy.as('served_by') },
      }),

    createComment: async (comment) => {
      const [row] = await db
        .insert(comments)
        .values({ postId: comment.postId, body: comment.body })
        .returning({
          id: comments.id,
          postId: comments.postId,
          body: comments.body,
          createdAt: comments.createdAt,
          servedBy,
        })
      return row!
    },
  } satisfies PostQueries
}
