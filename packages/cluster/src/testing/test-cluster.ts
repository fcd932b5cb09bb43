import { randomBytes } from 'node:crypto'
import { ClusterError, invalidOption } from '../cluster-error.js'
import type { Cluster } from '../cluster-node.js'
import type { StartClusterOptions } from '../cluster-options.js'
import { clusterFromEnv, connectCluster } from '../external-cluster.js'
import { startCluster } from '../start-cluster.js'
import { clusterEnvConfigured } from './cluster-env.js'
import { checkExternalCluster } from './external-check.js'

/** Options of {@link startTestCluster}: those of `startCluster`, plus how to reach an external cluster. */
export interface TestClusterOptions extends StartClusterOptions {
  /** Where to read `PGROUTE_PRIMARY_URL` / `PGROUTE_REPLICA_URLS`. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv
  /** How long every external node has to answer before the suite fails. Default 20000 ms. */
  readonly connectTimeoutMs?: number
}

/**
 * The cluster a test suite runs against. With `PGROUTE_PRIMARY_URL` set: the external cluster it names (with
 * `PGROUTE_REPLICA_URLS`), checked node by node; unreachable servers fail the suite, there is no fallback to a
 * local cluster. The suite gets the first `replicas` replicas and no replica delay (`replicaOptions` other than
 * the count are ignored; tests that need them call `requireControl`), and a database of its own: created for the
 * suite (the role of the URLs needs `CREATEDB`), named in every node's URL and dropped by `stop()` (kept with
 * `PGROUTE_KEEP_TEST_DATABASES=1`, e.g. to read their statistics), so suites sharing servers never see each
 * other's objects, as with a local cluster. Otherwise a local cluster from
 * `startCluster(options)`.
 *
 * @example
 * ```ts
 * let cluster: Cluster
 * beforeAll(async () => { cluster = await startTestCluster({ replicas: 2 }) })
 * afterAll(() => cluster?.stop())
 * ```
 */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<Cluster> {
  const { env = process.env, connectTimeoutMs = 20_000, ...clusterOptions } = options
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw invalidOption('connectTimeoutMs', 'expected a positive integer number of milliseconds')
  }
  if (!clusterEnvConfigured(env)) return startCluster(clusterOptions)
  const cluster = await connectExternalCluster(env, connectTimeoutMs)
  const wanted = clusterOptions.replicas ?? clusterOptions.replicaOptions?.length ?? 1
  if (cluster.replicas.length < wanted) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_INVALID_STATE',
      `This suite needs ${wanted} replicas; PGROUTE_REPLICA_URLS names ${cluster.replicas.length}`,
    )
  }
  return isolated(cluster, wanted, env.PGROUTE_KEEP_TEST_DATABASES === '1')
}

/**
 * {@link clusterFromEnv}, checked: every node answers within `timeoutMs` in the role its variable gives it.
 * Throws `PGROUTE_CLUSTER_INVALID_OPTION` when `PGROUTE_PRIMARY_URL` is not set.
 */
export async function connectExternalCluster(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 20_000,
): Promise<Cluster> {
  const cluster = clusterFromEnv(env)
  if (!cluster) throw invalidOption('PGROUTE_PRIMARY_URL', 'is not set')
  await checkExternalCluster(cluster, timeoutMs)
  return cluster
}

async function isolated(cluster: Cluster, replicas: number, keep: boolean): Promise<Cluster> {
  const database = `pgroute_test_${process.pid}_${randomBytes(4).toString('hex')}`
  try {
    await cluster.primary.query(`CREATE DATABASE ${database}`)
  } catch (error) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_INVALID_STATE',
      `Could not create the suite's database on the primary of PGROUTE_PRIMARY_URL (its role needs CREATEDB): ${
        (error as Error).message
      }`,
      { node: cluster.primary.name, cause: error },
    )
  }
  const own = (url: string) => {
    const parsed = new URL(url)
    parsed.pathname = `/${database}`
    return parsed.toString()
  }
  const chosen = cluster.replicas.slice(0, replicas)
  const suite = connectCluster({
    primaryUrl: own(cluster.primary.url),
    replicaUrls: chosen.map((replica) => own(replica.url)),
  })
  const stop = suite.stop.bind(suite)
  const drop = async () => {
    // FORCE ends the suite's own sessions that are still open (the role may end its own backends).
    await cluster.primary.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  }
  try {
    // External replicas lag a little: the suite starts once they have its database (asked in the database the
    // URLs name, since the new one may not exist on them yet).
    await cluster.waitForReplication({ replicas: chosen })
  } catch (error) {
    await drop()
    throw error
  }
  return Object.assign(suite, {
    async stop(options?: Parameters<Cluster['stop']>[0]) {
      if (!suite.stopped && !keep) await drop()
      await stop(options)
    },
  })
}
