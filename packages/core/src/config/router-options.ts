import type pg from 'pg'
import type { Logger } from './logger.js'
import type { ReplicaInfo } from './replica-info.js'

/**
 * How to reach one node: a connection string, a `pg.PoolConfig`, or an existing `pg.Pool` (which the router uses
 * but never ends: its owner does).
 */
export type NodeInput = string | pg.PoolConfig | pg.Pool

/** A node given as a config object: pg's pool settings, plus what the router itself reads from it. */
export interface NodeConfig extends pg.PoolConfig {
  /** Name shown in `status()` and events. Default: `host:port/database` (never the password). */
  readonly name?: string
  /**
   * The availability zone (or rack, or data centre) the server runs in, an opaque string compared with the
   * router's own {@link RouterOptions.zone} for equality only: `balance: 'nearest'` prefers replicas of the
   * router's zone. Use the same spelling on both sides (on AWS the zone ID, `use1-az1`, not the name). Not with
   * a multi-host connection string: give each host its own entry.
   */
  readonly zone?: string
  /** Use this existing pool instead of creating one from the other fields. */
  readonly pool?: pg.Pool
}

/** A replica: a {@link NodeInput}, or a {@link NodeConfig} with a balancing weight. */
export type ReplicaInput =
  | NodeInput
  | (NodeConfig & {
      /** Relative share of reads for weighted strategies. Default 1. */
      readonly weight?: number
    })

/**
 * A replica-picking function: gets the eligible replicas (never empty) and returns one, or `undefined` to use
 * the `fallback`.
 */
export type BalanceFunction = (candidates: readonly ReplicaInfo[]) => ReplicaInfo | undefined

/** Names of the built-in balancing strategies. */
export const BALANCE_STRATEGIES = ['round-robin', 'random', 'least-lag', 'least-busy', 'nearest'] as const

/** Built-in balancing strategies. */
export type BalanceStrategy = (typeof BALANCE_STRATEGIES)[number]

/** Replication-lag bounds: a replica beyond either bound gets no reads until it is back within both. */
export interface LagOptions {
  /** Max bytes of WAL the replica may be behind the primary. Default 16 MiB. `Infinity` disables the bound. */
  readonly maxBytes?: number
  /**
   * Max age in milliseconds of the oldest WAL the replica has not replayed yet (measured from the probes of the
   * primary, to within one `healthCheck.intervalMs`; 0 while it has replayed everything). Default 10000.
   * `Infinity` disables the bound.
   */
  readonly maxMs?: number
  /** @deprecated Use {@link maxMs} (milliseconds): `maxSeconds: 10` is `maxMs: 10_000`. Still accepted. */
  readonly maxSeconds?: number
}

/** Health and lag probing. */
export interface HealthCheckOptions {
  /** Milliseconds between probe rounds. Default 1000. */
  readonly intervalMs?: number
  /** A probe slower than this counts as a failure; must be below `intervalMs`. Default 500 (below the interval). */
  readonly timeoutMs?: number
  /** Upper bound of the back-off between re-probes of a node marked down. Default 5000. */
  readonly maxBackoffMs?: number
  /**
   * The router counts as idle once it has run no statement for this many milliseconds. Default 10000. Idle, it
   * probes every {@link idleIntervalMs}; a statement that finds the probe data older than {@link intervalMs}
   * waits for a new probe round (one round trip, every node in parallel) before it chooses a node, so lag bounds,
   * failovers and fencing are judged on data as fresh as while active.
   */
  readonly idleAfterMs?: number
  /**
   * Milliseconds between probe rounds while the router is idle. Default 15000. Equal to {@link intervalMs}: the
   * router never probes less.
   */
  readonly idleIntervalMs?: number
}

/** Retries of reads that failed for connection or hot-standby reasons. Writes are never retried. */
export interface RetryOptions {
  /** Further attempts after the first, each on another node (replicas first, then the primary). Default 2, at most 10. */
  readonly retries?: number
  /** Milliseconds before the first retry (doubling after). Default 0: another node is tried at once. */
  readonly minTimeoutMs?: number
  /** Upper bound of the delay between retries. Default 1000. */
  readonly maxTimeoutMs?: number
}

/** Read-your-writes inside `router.session()`. */
export interface ReadYourWritesOptions {
  /**
   * When no replica is known (from the latest probe) to have replayed the session's last write, ask the
   * best candidate directly and wait up to this many milliseconds for it to catch up before using the primary.
   * Default 0: ask once, don't wait.
   */
  readonly maxWaitMs?: number
  /** Ask a replica directly at all when the probe data is not enough. Default true. */
  readonly directCheck?: boolean
  /**
   * Read on a synchronous standby without waiting for its replay position when PostgreSQL guarantees it applied
   * the session's writes before they were acknowledged (`synchronous_commit = remote_apply`, the standby among the
   * first `n` of `FIRST n`, or every standby of `ANY n` counted; see the core README, "Synchronous standbys").
   * Default true.
   */
  readonly synchronousApply?: boolean
}

/**
 * Time limits of statements the router runs (0: none). A statement past its limit is cancelled on the server (a
 * cancel request) and its connection discarded; a read is then re-run on another node, a write fails with
 * `PgRouteError` `PGROUTE_TIMEOUT` and is never re-run. Checked by one shared timer, so a statement is cancelled
 * up to two timer periods (a quarter of the shortest limit, at most 1 s) after its limit.
 */
export interface TimeoutOptions {
  /** Limit of a read in ms. Default 30000. */
  readonly readMs?: number
  /**
   * Limit of a write (any statement sent to the primary as such) in ms. Default 0: none, because a cancelled
   * write's outcome is unknown to its caller and long writes (migrations, batches) are legitimate; a write on a
   * primary marked down fails at once either way.
   */
  readonly writeMs?: number
}

/**
 * Sizes and timeouts of the `pg.Pool` the router creates for each node it is given as a string or config (pg's
 * `max`, `idleTimeoutMillis` and `connectionTimeoutMillis`; a node's own config overrides them).
 */
export interface PoolDefaults {
  /** Max connections per node. Default 10. */
  readonly max?: number
  /** Idle connection lifetime in ms. Default 10000. */
  readonly idleTimeoutMs?: number
  /**
   * Max wait for a new connection in ms. Default 5000. 0 (no limit) is accepted only with `timeouts.readMs` and
   * `timeouts.writeMs` both 0: a statement's time limit cannot hold while its connection may be awaited forever.
   */
  readonly connectionTimeoutMs?: number
  /** @deprecated Use {@link idleTimeoutMs} (same value). Still accepted. */
  readonly idleTimeoutMillis?: number
  /** @deprecated Use {@link connectionTimeoutMs} (same value). Still accepted. */
  readonly connectionTimeoutMillis?: number
}

/** What writes do while the primary is down or fenced, before a new one leads. */
export interface FailoverOptions {
  /**
   * How long a write that has not reached any server waits for a primary that may take it (the same one back, or
   * a new one after a failover) before failing with `PGROUTE_PRIMARY_UNAVAILABLE`. Default 0: fail at once; at most 60000.
   */
  readonly waitMs?: number
}

/**
 * Options of {@link createRouter}. Validated once, up front: a bad value throws a `ConfigError` naming it.
 */
export interface RouterOptions {
  /**
   * The primary (the only node that takes writes): the first guess. The probes observe which node is primary
   * (not in recovery, on the newest timeline), so writes follow a failover. A multi-host connection string
   * (`postgres://u:p@h1:5432,h2:5432/app`) adds one node per host, the first one the first guess.
   * Either `primary` (with `replicas`) or `nodes` is required.
   */
  readonly primary?: NodeInput | NodeConfig
  /** Hot-standby replicas that serve reads (their roles observed too). Default none. */
  readonly replicas?: readonly ReplicaInput[]
  /**
   * Every node, instead of `primary` and `replicas`: the probes tell which one is primary (the first one is the
   * guess until the first probe). Multi-host connection strings add one node per host.
   */
  readonly nodes?: readonly ReplicaInput[]
  /** Writes while the primary is down or fenced. */
  readonly failover?: FailoverOptions
  /** Replication-lag bounds for replica eligibility. */
  readonly lag?: LagOptions
  /** Health and lag probing. */
  readonly healthCheck?: HealthCheckOptions
  /**
   * How to pick among eligible replicas. Default `'round-robin'` (weighted).
   * - `'round-robin'`: in turn, by weight; `'random'`: at random, by weight;
   * - `'least-lag'`: the replica least behind; `'least-busy'`: the one running the fewest statements per weight;
   * - `'nearest'`: the near replicas (of the router's {@link zone} when zones are given, else those whose measured
   *   round-trip time is within half of the nearest one's, or 0.5 ms of it), the least busy of them; the farther
   *   ones only while every near one has all its pool's connections busy (spill-over), nearest first.
   */
  readonly balance?: BalanceStrategy | BalanceFunction
  /**
   * The availability zone this application instance runs in (compared with each node's `zone`, for equality
   * only): with `balance: 'nearest'`, replicas of this zone take the reads while they have free connections.
   * Without zones, `'nearest'` goes by measured round-trip time alone. See the README, "Zones".
   */
  readonly zone?: string
  /** Where reads go when no replica is eligible: the primary (default) or a `PgRouteError`. */
  readonly fallback?: 'primary' | 'error'
  /** Read retries on connection errors and hot-standby conflicts. */
  readonly retry?: RetryOptions
  /** Time limits of reads and writes. */
  readonly timeouts?: TimeoutOptions
  /** Read-your-writes tuning. */
  readonly readYourWrites?: ReadYourWritesOptions
  /** Functions (besides the built-in list) whose calls make a statement a write, e.g. `['audit.log_access']`. */
  readonly writeFunctions?: readonly string[]
  /** Pool settings for nodes given as strings or configs. */
  readonly pool?: PoolDefaults
  /**
   * pg's `types` (an object with `getTypeParser`, such as `pg.types` or an ORM's own parsers), given to every pool
   * the router creates, nodes added later included, so that rows are parsed alike whichever node served them.
   * A node's own config may set its own; pools passed in keep theirs. The router's own connections (probes, WAL
   * positions) use pg's defaults.
   */
  readonly types?: pg.CustomTypesConfig
  /** Entries of the statement-classification cache. Default 1000; 0 disables it. */
  readonly classifierCacheSize?: number
  /** Emit a `route` event for every routed statement (costs a little per query). Default false. */
  readonly routeEvents?: boolean
  /**
   * Remember statement texts a replica refused (SQLSTATE 25006, 0A000, 55000: a user function that writes, a
   * read of an unlogged table) and send them straight to the primary from then on. Default true.
   */
  readonly learnRouting?: boolean
  /**
   * A pino-compatible logger (`debug`, `info`, `warn`, `error`; pino itself, a child of it, or `console`) for node
   * state changes, reads re-run elsewhere and reads that fell back to the primary. Never given a password.
   */
  readonly logger?: Logger
  /**
   * Report metrics and span attributes through `@opentelemetry/api` when the application has it installed (an
   * optional peer dependency; without it nothing is loaded or hooked). Register the `MeterProvider` before
   * creating the router. Default true.
   */
  readonly openTelemetry?: boolean
}
