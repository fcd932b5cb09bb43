import type { Attributes, BatchObservableResult, Counter, Meter, ObservableGauge } from '@opentelemetry/api'
import { isDistanceChoice } from '../replicas/distance-choice.js'
import type { NodeRole, NodeState, RouterNode } from '../replicas/router-node.js'
import type { OpenTelemetryApi } from './open-telemetry-loader.js'
import type { RerouteEvent } from './router-events.js'
import { isFallback } from './router-events.js'
import type {
  BackgroundTracer,
  CheckoutTracer,
  ClosingTracer,
  RerouteTracer,
  StatementTracer,
} from './router-tracer.js'

/** Names of the metrics pgroute reports (documented in the package README). */
export const METRICS = {
  statements: 'pgroute.statements',
  statementErrors: 'pgroute.statement.errors',
  reroutes: 'pgroute.reroutes',
  fallbacks: 'pgroute.read.fallbacks',
  choices: 'pgroute.read.choices',
  nodeState: 'pgroute.node.state',
  lagBytes: 'pgroute.replica.lag.bytes',
  lagSeconds: 'pgroute.replica.lag.seconds',
  poolInUse: 'pgroute.pool.connections.in_use',
  poolWaiting: 'pgroute.pool.waiting',
  rtt: 'pgroute.node.rtt',
  syncState: 'pgroute.replica.sync_state',
} as const

const SYNC_STATES = ['sync', 'quorum', 'potential', 'async'] as const

const STATES: readonly NodeState[] = ['unknown', 'up', 'lagging', 'down', 'fenced']

/**
 * `@opentelemetry/core`'s `suppressTracing` key. The API names context keys with `Symbol.for`, so the same
 * description gives the same key: instrumentations (e.g. of `pg`) honour it without pgroute depending on the SDK.
 */
const SUPPRESS_TRACING = 'OpenTelemetry SDK Context Key SUPPRESS_TRACING'

/** The nodes' pools, as pg-pool counts them. */
interface PoolCounts {
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
}

/**
 * pgroute's OpenTelemetry signals, as a tracer of the router: counters of statements, reroutes and fallbacks,
 * gauges read from the nodes when the SDK collects, and `pgroute.node` / `pgroute.reason` on the caller's active
 * span. Metrics go to the global `MeterProvider` as registered when the router is created.
 */
export class RouterTelemetry
  implements StatementTracer, CheckoutTracer, RerouteTracer, BackgroundTracer, ClosingTracer
{
  readonly #api: OpenTelemetryApi
  readonly #nodes: () => readonly RouterNode[]
  readonly #meter: Meter
  readonly #statements: Counter
  readonly #statementErrors: Counter
  readonly #reroutes: Counter
  readonly #fallbacks: Counter
  readonly #choices: Counter
  readonly #gauges: ObservableGauge[]
  /** Replicas' sync states, apart from the gauges above (observed in the same batch). */
  readonly #syncState: ObservableGauge
  readonly #observe = (result: BatchObservableResult) => this.#collect(result)
  /** Per role (a node's role changes in a failover), per node, per reason: the frozen attribute sets. */
  readonly #attributes: Readonly<Record<NodeRole, WeakMap<RouterNode, Map<string, Attributes>>>> = {
    primary: new WeakMap(),
    replica: new WeakMap(),
  }
  readonly #choiceAttributes = new WeakMap<RouterNode, Map<string, Attributes>>()

  constructor(api: OpenTelemetryApi, nodes: () => readonly RouterNode[]) {
    this.#api = api
    this.#nodes = nodes
    const meter = api.metrics.getMeter('@pgroute/core')
    this.#meter = meter
    this.#statements = meter.createCounter(METRICS.statements, {
      description: 'Statements run, by the node that ran them, its role and the routing reason',
      unit: '{statement}',
    })
    this.#statementErrors = meter.createCounter(METRICS.statementErrors, {
      description: 'Statements that failed, by routing reason',
      unit: '{statement}',
    })
    this.#reroutes = meter.createCounter(METRICS.reroutes, {
      description: 'Reads run again elsewhere: retried after a failure, or refused as a write by a replica',
      unit: '{statement}',
    })
    this.#fallbacks = meter.createCounter(METRICS.fallbacks, {
      description: 'Reads sent to the primary: no replica eligible, or none had replayed the session',
      unit: '{statement}',
    })
    this.#choices = meter.createCounter(METRICS.choices, {
      description:
        "Replica reads by balance: 'nearest''s choice: nearest, spill-over (near replicas saturated) or far (none near)",
      unit: '{statement}',
    })
    this.#gauges = [
      meter.createObservableGauge(METRICS.nodeState, {
        description: '1 for the state a node is in, 0 for the others',
      }),
      meter.createObservableGauge(METRICS.lagBytes, {
        description: 'WAL a replica has not replayed',
        unit: 'By',
      }),
      meter.createObservableGauge(METRICS.lagSeconds, {
        description: 'Age of the oldest WAL a replica has not replayed',
        unit: 's',
      }),
      meter.createObservableGauge(METRICS.poolInUse, {
        description: 'Connections of the node pool checked out',
        unit: '{connection}',
      }),
      meter.createObservableGauge(METRICS.poolWaiting, {
        description: 'Requests waiting for a connection of the node pool',
        unit: '{request}',
      }),
      meter.createObservableGauge(METRICS.rtt, {
        description: 'Measured round-trip time to the node (moving average of probes and fastest statements)',
        unit: 'ms',
      }),
    ]
    this.#syncState = meter.createObservableGauge(METRICS.syncState, {
      description:
        "1 for a replica's sync state in the primary's pg_stat_replication, 0 for the others (none when not listed)",
    })
    this.#gauges.push(this.#syncState)
    meter.addBatchObservableCallback(this.#observe, this.#gauges)
  }

  /** Runs `work` with tracing suppressed: the health probes' connections and statements make no spans. */
  traceBackground<T>(work: () => T): T {
    const { context, createContextKey } = this.#api
    return context.with(context.active().setValue(createContextKey(SUPPRESS_TRACING), true), work)
  }

  /** The caller's active span, taken when the statement is routed (in the caller's context). */
  traceStatementStart(_reason: string): unknown {
    return this.#api.trace.getActiveSpan()
  }

  /** Counts the statement by where it ran (or as failed), and tags the caller's span. */
  traceStatementEnd(started: unknown, node: RouterNode | undefined, reason: string, error: unknown): void {
    if (error !== undefined || node === undefined) {
      this.#statementErrors.add(1, { 'pgroute.reason': reason })
      return
    }
    const attributes = this.#attributesOf(node, reason)
    this.#statements.add(1, attributes)
    const span = started as ReturnType<OpenTelemetryApi['trace']['getActiveSpan']>
    if (span?.isRecording()) span.setAttributes(attributes)
  }

  /** One frozen attribute set per node, role and reason, made once: no allocation per statement. */
  #attributesOf(node: RouterNode, reason: string): Attributes {
    const role = node.role
    const cache = this.#attributes[role]
    return (
      cache.get(node)?.get(reason) ??
      remember(cache, node, reason, {
        'pgroute.node': node.name,
        'pgroute.role': role,
        'pgroute.reason': reason,
      })
    )
  }

  /**
   * Counts reads that went to the primary: no replica was eligible (`fallback`), or none had replayed the session;
   * and, with `balance: 'nearest'`, each replica read by its choice (`nearest`, `spill-over`, `far`).
   */
  traceCheckout(node: RouterNode, reason: string): void {
    if (isDistanceChoice(reason)) {
      const attributes =
        this.#choiceAttributes.get(node)?.get(reason) ??
        remember(this.#choiceAttributes, node, reason, {
          'pgroute.node': node.name,
          'pgroute.choice': reason,
        })
      this.#choices.add(1, attributes)
    } else if (isFallback(node.role, reason))
      this.#fallbacks.add(1, { 'pgroute.node': node.name, 'pgroute.reason': reason })
  }

  /** A read was re-run on another node. */
  traceReroute(event: RerouteEvent): void {
    this.#reroutes.add(1, { 'pgroute.node': event.from, 'pgroute.reason': event.reason })
  }

  /** Stops reporting the gauges (the router ended). */
  close(): void {
    this.#meter.removeBatchObservableCallback(this.#observe, this.#gauges)
  }

  /** A replica's sync state, when the primary lists it. */
  #observeSync(result: BatchObservableResult, node: RouterNode, attributes: Attributes): void {
    const { syncState } = node
    if (syncState === undefined) return
    for (const each of SYNC_STATES) {
      result.observe(this.#syncState, syncState === each ? 1 : 0, {
        ...attributes,
        'pgroute.sync_state': each,
      })
    }
  }

  #collect(result: BatchObservableResult): void {
    const [state, lagBytes, lagSeconds, inUse, waiting, rtt] = this.#gauges as [
      ObservableGauge,
      ObservableGauge,
      ObservableGauge,
      ObservableGauge,
      ObservableGauge,
      ObservableGauge,
    ]
    for (const node of this.#nodes()) {
      const attributes: Attributes = { 'pgroute.node': node.name, 'pgroute.role': node.role }
      for (const each of STATES) {
        result.observe(state, node.state === each ? 1 : 0, { ...attributes, 'pgroute.state': each })
      }
      if (node.role === 'replica') {
        result.observe(lagBytes, node.lagBytes, attributes)
        result.observe(lagSeconds, node.lagSeconds, attributes)
        this.#observeSync(result, node, attributes)
      }
      const pool = node.pool as unknown as PoolCounts
      result.observe(inUse, pool.totalCount - pool.idleCount, attributes)
      result.observe(waiting, pool.waitingCount, attributes)
      if (node.rttMs !== undefined) result.observe(rtt, node.rttMs, attributes)
    }
  }
}

/**
 * Keeps `attributes` (frozen) as the set of `node` and `key` in `cache`, and returns them: attribute sets are made
 * once per node and reason, so that counting a statement allocates nothing.
 */
function remember(
  cache: WeakMap<RouterNode, Map<string, Attributes>>,
  node: RouterNode,
  key: string,
  attributes: Attributes,
): Attributes {
  let byKey = cache.get(node)
  if (byKey === undefined) {
    byKey = new Map()
    cache.set(node, byKey)
  }
  const frozen = Object.freeze(attributes)
  byKey.set(key, frozen)
  return frozen
}
