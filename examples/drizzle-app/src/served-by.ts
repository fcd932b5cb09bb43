import { SERVED_BY_SQL } from '@pgroute-examples/shared'
import { sql } from 'drizzle-orm'

/** `host:port` of the server running the statement, selected alongside the data (`{ ...columns, servedBy }`). */
export const servedBy = sql<string>`${sql.raw(SERVED_BY_SQL)}`
