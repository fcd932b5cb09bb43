import pg from 'pg'

/**
 * A plain `pg.Pool` on one node, for comparisons with the router. `pool.end()` resolves before its connections
 * have closed, so one may still get the server's goodbye (57P01) when a local cluster stops right after: that
 * error is expected then and ignored; any other idle-client error is rethrown.
 */
export function plainPool(url: string, options: Readonly<pg.PoolConfig> = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, ...options })
  pool.on('error', (error) => {
    if ((error as { code?: string }).code !== '57P01') throw error
  })
  return pool
}
