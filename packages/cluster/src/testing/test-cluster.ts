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

/** A cluster for one test suite, from {@link startTestCluster}. */
export interface TestCluster extends Cluster {
  /**
   * External clusters only: the schema this suite's objects live in. It is created for the suite, is first in the
   * `search_path` of every node's URL, and is dropped by `stop()`, so suites sharing servers never see each
   * other's tables. `undefined` for a local cluster, which belongs to the suite alone.
   */
  readonly schema: string | undefined
}

/**
 * The cluster a test suite runs against. With `PGROUTE_PRIMARY_URL` set: the external cluster it names (with
 * `PGROUTE_REPLICA_URLS`), checked node by node; unreachable servers fail the suite, there is no fallback to a
 * local cluster. The suite gets the first `replicas` replicas, a schema of its own, and no replica delay
 * (`replicaOptions` other than the count are ignored; tests that need them call `requireControl`). Otherwise a
 * local cluster from `startCluster(options)`.
 *
 * @example
 * ```ts
 * let cluster: TestCluster
 * beforeAll(async () => { cluster = await startTestCluster({ replicas: 2 }) })
 * afterAll(() => cluster?.stop())
 * ```
 */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const { env = process.env, connectTimeoutMs = 20_000, ...clusterOptions } = options
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw invalidOption('connectTimeoutMs', 'expected a positive integer number of milliseconds')
  }
  if (!clusterEnvConfigured(env))
    return Object.assign(await startCluster(clusterOptions), { schema: undefined })
  const cluster = await connectExternalCluster(env, connectTimeoutMs)
  const wanted = clusterOptions.replicas ?? clusterOptions.replicaOptions?.length ?? 1
  if (cluster.replicas.length < wanted) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_INVALID_STATE',
      `This suite needs ${wanted} replicas; PGROUTE_REPLICA_URLS names ${cluster.replicas.length}`,
    )
  }
  return isolated(cluster, wanted)
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

async function isolated(cluster: Cluster, replicas: number): Promise<TestCluster> {
  const schema = `pgroute_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await cluster.primary.query(`CREATE SCHEMA ${schema}`)
  const scoped = (url: string) => {
    const parsed = new URL(url)
    const options = parsed.searchParams.get('options')
    parsed.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=${schema}`)
    return parsed.toString()
  }
  const suite = connectCluster({
    primaryUrl: scoped(cluster.primary.url),
    replicaUrls: cluster.replicas.slice(0, replicas).map((replica) => scoped(replica.url)),
  })
  // External replicas lag a little: the suite starts once they have the schema.
  await suite.waitForReplication()
  const stop = suite.stop.bind(suite)
  return Object.assign(suite, {
    schema,
    async stop(options?: Parameters<Cluster['stop']>[0]) {
      if (!suite.stopped) await suite.primary.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await stop(options)
    },
  })
}
