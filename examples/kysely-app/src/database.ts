import type { Generated } from 'kysely'

/** The `posts` table (columns in camelCase: the app uses Kysely's `CamelCasePlugin`). */
export interface PostsTable {
  id: Generated<number>
  title: string
  body: string
  createdAt: Generated<Date>
}

/** The `comments` table: comments belong to a post and go with it. */
export interface CommentsTable {
  id: Generated<number>
  postId: number
  body: string
  createdAt: Generated<Date>
}

/** The database as Kysely sees it. */
export interface Database {
  posts: PostsTable
  comments: CommentsTable
}
