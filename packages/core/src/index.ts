/**
 * pgroute: a lag-aware primary/replica router for PostgreSQL with read-your-writes.
 *
 * @example
 * ```ts
 * import { createRouter } from '@pgroute/core'
 *
 * const router = createRouter({ primary: process.env.PRIMARY_URL, replicas: [process.env.REPLICA_URL] })
 * await router.ready()
 * await router.session(async () => {
 *   await router.query('INSERT INTO posts (title) VALUES ($1)', ['hi'])
 *   await router.query('SELECT * FROM posts') // a replica that has replayed the insert, or the primary
 * })
 * await router.end()
 * ```
 *
 * @packageDocumentation
 */

export type {
  Classification,
  ClassificationReason,
  Classifier,
  ClassifierOptions,
  LearnedReason,
  LearnedRouteCounts,
  RouteTarget,
} from './classify/index.js'
export { classify, createClassifier } from './classify/index.js'
export type { Logger, LogMethod } from './config/logger.js'
export type { ReplicaInfo } from './config/replica-info.js'
export type {
  BalanceFunction,
  BalanceStrategy,
  FailoverOptions,
  HealthCheckOptions,
  LagOptions,
  NodeInput,
  PoolDefaults,
  ReadYourWritesOptions,
  ReplicaInput,
  RetryOptions,
  RouterOptions,
  TimeoutOptions,
} from './config/router-options.js'
export type { RejectedStatement } from './core/rejection-log.js'
export type { Submittable } from './core/submittable.js'
export {
  ConfigError,
  isConfigError,
  isPgRouteError,
  type Outcome,
  PgRouteError,
  type PgRouteErrorCode,
  type PgRouteErrorOptions,
} from './errors.js'
export { formatLsn, parseLsn } from './health/lsn.js'
export type {
  ClusterReplacedEvent,
  NodeStateEvent,
  PrimaryChangedEvent,
  RerouteEvent,
  RouteEvent,
  RouterEvents,
  WritesLostEvent,
} from './observability/router-events.js'
export { RoutedClient } from './pool/routed-client.js'
export { RoutedPool } from './pool/routed-pool.js'
export type { NodeRole, NodeState } from './replicas/router-node.js'
export { createRouter, Router } from './router/router.js'
export type { RouterHealth } from './router/router-health.js'
export type { NodeStatus } from './router/router-status.js'
export type { TransactionOptions } from './router/transaction-runner.js'
export { isToken } from './session/causal-session.js'
export type { SessionHandle, SessionOptions } from './session/session-handle.js'
