import { SERVED_BY_SQL } from '@pgroute-examples/shared'
import { sql } from 'kysely'

/** `host:port` of the server running the statement, selected alongside the data (`servedBy.as('servedBy')`). */
export const servedBy = sql.raw<string>(SERVED_BY_SQL)
