import type { ClientConfig, QueryResult, QueryResultRow } from 'pg'
import pg from 'pg'

/**
 * Runs `fn` with a connected `pg.Client` that is closed afterwards. Errors from the database pass through
 * unchanged.
 */
export async function withClient<T>(config: ClientConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...config })
  // A server shutting down may drop the connection outside a query; that must not crash the process.
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Runs one statement on a short-lived connection. */
export function queryOnce<R extends QueryResultRow = QueryResultRow>(
  config: ClientConfig,
  sql: string,
  params?: unknown[],
): Promise<QueryResult<R>> {
  return withClient(config, (client) => client.query<R>(sql, params))
}
