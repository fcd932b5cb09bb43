import { primary } from '@pgroute/kysely'
import { type Kysely, sql } from 'kysely'
import type { Database } from './database.js'

/**
 * Creates the tables if they do not exist yet, on the primary (`primary(db)`; pgroute would send DDL there
 * anyway, as a write). The replicas receive the tables through replication.
 */
export async function migrate(db: Kysely<Database>): Promise<void> {
  const { schema } = primary(db)
  await schema
    .createTable('posts')
    .ifNotExists()
    .addColumn('id', 'integer', (column) => column.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('title', 'text', (column) => column.notNull())
    .addColumn('body', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .execute()
  await schema
    .createTable('comments')
    .ifNotExists()
    .addColumn('id', 'integer', (column) => column.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('post_id', 'integer', (column) => column.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('body', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .execute()
  await schema.createIndex('comments_post_id_idx').ifNotExists().on('comments').column('post_id').execute()
}
