/**
 * `@pgroute/cluster/testing`: what every integration suite of pgroute shares. {@link startTestCluster} gives a
 * suite the external cluster named by `PGROUTE_PRIMARY_URL` / `PGROUTE_REPLICA_URLS`, or a local one;
 * {@link requireControl} skips, with the reason, tests that must stop, pause or promote servers when they are not
 * this process's to control.
 *
 * @packageDocumentation
 */

export { clusterEnvConfigured } from './cluster-env.js'
export { requireControl, requireServerVersion, type SkippableContext } from './control.js'
export { checkExternalCluster } from './external-check.js'
export { type FailoverLoadResult, failoverUnderLoad, type TimedWrite } from './failover-load.js'
export { plainPool } from './plain-pool.js'
export { type RedisServer, redisMissing, startRedis } from './redis-server.js'
export { MIN_REPLICA_SHARE, replicaShare } from './replica-share.js'
export { requirePassword } from './require-password.js'
export { portNames, portOf, WHO } from './server-identity.js'
export {
  connectExternalCluster,
  startTestCluster,
  type TestClusterOptions,
} from './test-cluster.js'
export { type ClusterRouterOptions, FAST_HEALTH, routerOptions } from './test-router.js'
export { waitFor } from './wait-for.js'
