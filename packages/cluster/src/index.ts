/**
 * `@pgroute/cluster`: a real PostgreSQL streaming-replication cluster on loopback for tests, demos and benchmarks.
 * Start with {@link startCluster}; see the README for the CLI, the Docker backend and external clusters.
 *
 * @packageDocumentation
 */

export type { AuthMethod } from './client-auth.js'
export {
  ClusterError,
  type ClusterErrorCode,
  type ClusterErrorOptions,
  isClusterError,
} from './cluster-error.js'
export type {
  Cluster,
  ClusterNode,
  ClusterStatus,
  NodeConnectionConfig,
  NodeRole,
  NodeStatus,
} from './cluster-node.js'
export type {
  ClusterBackend,
  ClusterLogEntry,
  ClusterLogger,
  ClusterStopOptions,
  NodeStopOptions,
  PromoteOptions,
  ReplicaOptions,
  StartClusterOptions,
  StopMode,
  WaitForReplicationOptions,
} from './cluster-options.js'
export type { OccupiedConnections, OccupyConnectionsOptions } from './connection-hog.js'
export {
  type DelayDirection,
  type DelayProxy,
  type DelayProxyOptions,
  type DelayProxyTarget,
  startDelayProxy,
} from './delay-proxy.js'
export { type Duration, parseDuration } from './duration.js'
export { type ConnectClusterOptions, clusterFromEnv, connectCluster } from './external-cluster.js'
export {
  type HaproxyListener,
  type HaproxyOptions,
  type HaproxyServer,
  haproxyUnavailable,
  startHaproxy,
} from './haproxy.js'
export {
  type PgBouncerFleet,
  type PgBouncerOptions,
  type PgBouncerTarget,
  type PooledNode,
  type PoolMode,
  pgbouncerUnavailable,
  startPgBouncer,
} from './pgbouncer.js'
export type {
  ArchiveOptions,
  ArchiveTool,
  ReplicaTopologyOptions,
  ReplicationModeOptions,
  SynchronousCommit,
  SynchronousMethod,
  WalSource,
} from './replication-options.js'
export { startCluster } from './start-cluster.js'
export { systemBinary, systemBinaryMissing } from './system-binary.js'
export { tlsUnavailable } from './tls-certificates.js'
