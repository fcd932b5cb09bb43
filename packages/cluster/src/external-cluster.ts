import { BaseCluster } from './base-cluster.js'
import { BaseNode } from './base-node.js'
import { invalidOption } from './cluster-error.js'
import type { Cluster, NodeConnectionConfig, NodeRole } from './cluster-node.js'

/** Options of {@link connectCluster}. */
export interface ConnectClusterOptions {
  /** `postgres://user:password@host:port/database` of the primary. */
  readonly primaryUrl: string
  /** URLs of the replicas, named `replica-1`, `replica-2`, ... in this order. */
  readonly replicaUrls?: readonly string[]
}

/** A server this process did not start: it can be queried, not controlled. */
class ExternalNode extends BaseNode {
  readonly controllable = false
  readonly host: string
  readonly port: number
  readonly #url: string

  constructor(name: string, role: NodeRole, url: string, option: string) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw invalidOption(option, 'is not a valid postgres:// URL') // The URL may hold a password: never echo it.
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw invalidOption(option, `expected a postgres:// or postgresql:// URL, got ${parsed.protocol}//...`)
    }
    const user = decodeURIComponent(parsed.username)
    super(name, role, {
      user,
      password: decodeURIComponent(parsed.password),
      database: decodeURIComponent(parsed.pathname.slice(1)) || user,
    })
    this.host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
    this.port = parsed.port ? Number(parsed.port) : 5432
    this.#url = url
  }

  override get url(): string {
    return this.#url
  }

  override get connectionConfig(): NodeConnectionConfig {
    return { ...super.connectionConfig, connectionString: this.#url }
  }
}

/** A cluster provisioned elsewhere (e.g. the EC2 cluster of `infra/`); see {@link connectCluster}. */
class ExternalCluster extends BaseCluster {
  readonly backend = 'external'

  protected override async stopNodes(): Promise<void> {
    // Servers this process did not start are left alone.
  }
}

/**
 * A cluster-shaped handle on existing servers, so one test suite can run against a local cluster or an external
 * one. Queries, `status()` and `waitForReplication()` work; control methods (`stop`, `start`, `pauseReplay`,
 * `setApplyDelay`, `promote`, ...) throw `PGROUTE_CLUSTER_NOT_SUPPORTED`, and `controllable` is false.
 * `stop()` leaves the servers running.
 *
 * @example
 * ```ts
 * const cluster = connectCluster({ primaryUrl: 'postgres://app:secret@10.0.0.5:5432/app', replicaUrls: [...] })
 * if (!cluster.controllable) console.log('external cluster: failover tests are skipped')
 * ```
 */
export function connectCluster(options: ConnectClusterOptions): Cluster {
  return externalCluster(options, { primary: 'primaryUrl', replicas: 'replicaUrls' })
}

/**
 * {@link connectCluster} from `PGROUTE_PRIMARY_URL` and `PGROUTE_REPLICA_URLS` (comma-separated), or `undefined`
 * when `PGROUTE_PRIMARY_URL` is not set.
 */
export function clusterFromEnv(env: NodeJS.ProcessEnv = process.env): Cluster | undefined {
  const primaryUrl = env.PGROUTE_PRIMARY_URL?.trim()
  if (!primaryUrl) return undefined
  const replicaUrls = (env.PGROUTE_REPLICA_URLS ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0)
  return externalCluster(
    { primaryUrl, replicaUrls },
    { primary: 'PGROUTE_PRIMARY_URL', replicas: 'PGROUTE_REPLICA_URLS' },
  )
}

function externalCluster(
  options: ConnectClusterOptions,
  names: { primary: string; replicas: string },
): Cluster {
  if (typeof options?.primaryUrl !== 'string') throw invalidOption(names.primary, 'expected a URL string')
  const replicaUrls = options.replicaUrls ?? []
  if (!Array.isArray(replicaUrls)) throw invalidOption(names.replicas, 'expected an array of URL strings')
  const primary = new ExternalNode('primary', 'primary', options.primaryUrl, names.primary)
  const replicas = replicaUrls.map((url: unknown, index) => {
    const option = `${names.replicas}[${index}]`
    if (typeof url !== 'string') throw invalidOption(option, 'expected a URL string')
    const replica = new ExternalNode(`replica-${index + 1}`, 'replica', url, option)
    replica.upstream = primary
    return replica
  })
  return new ExternalCluster([primary, ...replicas], primary.connectionConfig)
}
