import type { Router } from '@pgroute/core'
import { pgrouteDrizzle } from '@pgroute/drizzle'
import * as schema from './database-schema.js'

/** A Drizzle database whose statements pgroute routes; `db.$primary` always uses the primary. */
export function createDatabase(router: Router) {
  return pgrouteDrizzle(router, { schema })
}

/** The app's Drizzle database. */
export type Database = ReturnType<typeof createDatabase>
