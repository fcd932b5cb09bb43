import pg from 'pg'

/**
 * A plain `pg.Pool` on one node, for comparisons with the router. `pool.end()` resolves before its connections
 * have closed, so one may still get the server's goodbye when the suite's cluster stops right after: 57P01 from a
 * local server shutting down or from `DROP DATABASE ... WITH (FORCE)`, 57P04 from a standby replaying that drop.
 * Those are expected then and ignored; any other idle-client error is rethrown.
 */
export function plainPool(url: string, options: Readonly<pg.PoolConfig> = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, ...options })
  pool.on('error', (error) => {
    const code = (error as { code?: string }).code
    if (code !== '57P01' && code !== '57P04') throw error
  })
  return pool
}
