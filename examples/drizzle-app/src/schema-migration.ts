import { sql } from 'drizzle-orm'
import type { Database } from './database.js'

/**
 * Creates the tables of `database-schema.ts` if they do not exist yet, on the primary (`db.$primary`). A real
 * project would generate these statements with drizzle-kit; the example keeps them inline to stay self-contained.
 */
export async function ensureSchema(db: Database): Promise<void> {
  await db.$primary.execute(sql`
    CREATE TABLE IF NOT EXISTS posts (
      id integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
      title text NOT NULL,
      body text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`)
  await db.$primary.execute(sql`
    CREATE TABLE IF NOT EXISTS comments (
      id integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
      post_id integer NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
      body text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`)
  await db.$primary.execute(sql`CREATE INDEX IF NOT EXISTS comments_post_id_idx ON comments (post_id)`)
}
