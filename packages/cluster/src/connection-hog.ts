import pg from 'pg'
import { ClusterError, invalidOption } from './cluster-error.js'
import type { NodeConnectionConfig } from './node-connection-config.js'

/** Options of `node.occupyConnections()`. */
export interface OccupyConnectionsOptions {
  /**
   * Connections to open. Default: as many as the server accepts, until it refuses one with SQLSTATE 53300
   * (`too many clients already`, or `too many connections for role` under `ALTER ROLE ... CONNECTION LIMIT`).
   */
  readonly count?: number
  /** Log in as this role instead of the cluster's superuser (to fill a role's `CONNECTION LIMIT`). */
  readonly user?: string
  /** Password of {@link user}. */
  readonly password?: string
}

/** Connections held open by `node.occupyConnections()`; {@link release} closes them. */
export interface OccupiedConnections {
  /** How many connections are held. */
  readonly count: number
  /** Closes every held connection. Idempotent. */
  release(): Promise<void>
}

// Enough for any max_connections a test cluster uses, and a bound on a runaway loop.
const limit = 10_000
const batch = 8

/**
 * Opens connections to one server and holds them, so that the next connection attempt is refused with 53300, as on
 * a server whose slots a connection storm or a leaking application took. The superuser also takes the slots
 * reserved for superusers, so everyone is refused, the cluster's own `query()` included.
 */
export async function occupyConnections(
  config: NodeConnectionConfig,
  node: string,
  options: OccupyConnectionsOptions = {},
): Promise<OccupiedConnections> {
  const wanted = options.count ?? limit
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > limit) {
    throw invalidOption('count', `expected an integer from 1 to ${limit}, got ${String(options.count)}`)
  }
  const clientConfig = {
    ...config,
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(options.password === undefined ? {} : { password: options.password }),
    connectionTimeoutMillis: 10_000,
  }
  const held: pg.Client[] = []
  const release = async () => {
    await Promise.all(held.splice(0).map((client) => client.end().catch(() => {})))
  }
  let full = false
  try {
    while (!full && held.length < wanted) {
      const attempts = Array.from({ length: Math.min(batch, wanted - held.length) }, async () => {
        const client = new pg.Client(clientConfig)
        client.on('error', () => {}) // A held connection may be cut (the server stops): nothing to report.
        try {
          await client.connect()
          held.push(client)
        } catch (error) {
          await client.end().catch(() => {})
          if ((error as { code?: unknown }).code !== '53300') throw error
          full = true
        }
      })
      // Settled, not raced: a connection still opening after a failure would escape the release below.
      const failed = (await Promise.allSettled(attempts)).find((result) => result.status === 'rejected')
      if (failed) throw failed.reason
    }
  } catch (error) {
    await release()
    throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `Could not occupy connections of ${node}`, {
      cause: error,
      node,
    })
  }
  return { count: held.length, release }
}
