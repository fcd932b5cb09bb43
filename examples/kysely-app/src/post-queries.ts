import type { PostQueries } from '@pgroute-examples/shared'
import type { Kysely } from 'kysely'
import { jsonArrayFrom } from 'kysely/helpers/postgres'
import type { Database } from './database.js'
import { servedBy } from './served-by.js'

/** The post routes' statements on Kysely, one per method. */
export function postQueries(db: Kysely<Database>) {
  return {
    createPost: (post) =>
      db
        .insertInto('posts')
        .values({ title: post.title, body: post.body })
        .returning(['id', 'title', 'body', 'createdAt', servedBy.as('servedBy')])
        .executeTakeFirstOrThrow(),

    listPosts: (limit) =>
      db
        .selectFrom('posts')
        .select(['id', 'title', 'body', 'createdAt', servedBy.as('servedBy')])
        .orderBy('id', 'desc')
        .limit(limit)
        .execute(),

    // One statement (`jsonArrayFrom` nests the comments as JSON), so one node answers all of it.
    findPost: (id) =>
      db
        .selectFrom('posts')
        .where('posts.id', '=', id)
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
        .executeTakeFirst(),

    createComment: (comment) =>
      db
        .insertInto('comments')
        .values({ postId: comment.postId, body: comment.body })
        .returning(['id', 'postId', 'body', 'createdAt', servedBy.as('servedBy')])
        .executeTakeFirstOrThrow(),
  } satisfies PostQueries
}
