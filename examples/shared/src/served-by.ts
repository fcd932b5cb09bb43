import type { FastifyReply } from 'fastify'

/** Response header naming the PostgreSQL server that ran the request's statement (`127.0.0.1:54321`). */
export const NODE_HEADER = 'x-pgroute-node'

/**
 * SQL for `host:port` of the server running the statement. Each app selects it alongside the data (through its
 * ORM's raw-SQL helper), so the server that produced the rows says who it is: the answer comes from the same
 * statement, not from a second query that might be routed elsewhere.
 */
export const SERVED_BY_SQL = "concat_ws(':', host(inet_server_addr()), inet_server_port())"

/** Sets {@link NODE_HEADER} from the first row, if there is one, and returns the rows without the field. */
export function reportServedBy<T extends { servedBy: string }>(
  reply: FastifyReply,
  rows: readonly T[],
): Omit<T, 'servedBy'>[] {
  if (rows[0]) reply.header(NODE_HEADER, rows[0].servedBy)
  return rows.map(({ servedBy: _, ...row }) => row)
}
