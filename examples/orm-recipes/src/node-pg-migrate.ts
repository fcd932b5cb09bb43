import { fileURLToPath } from 'node:url'
import type { Router } from '@pgroute/core'
import { runner } from 'node-pg-migrate'

/**
 * Runs the pending migrations of `src/migrations` with node-pg-migrate on one connection to the primary (its
 * advisory lock and its transaction need one connection), whichever node leads now. Its writes count for the
 * caller's `router.session()`: reads after it, in the session, see the new schema.
 */
export async function migrate(router: Router): Promise<string[]> {
  const client = await router.primary.connect()
  try {
    const ran = await runner({
      dbClient: client,
      dir: fileURLToPath(new URL('migrations', import.meta.url)),
      migrationsTable: 'pgmigrations',
      direction: 'up',
      log: () => {},
    })
    return ran.map((migration) => migration.name)
  } finally {
    client.release()
  }
}
