import type pg from 'pg'
import type { Classifier } from '../classify/index.js'
import type { Logger } from './logger.js'
import type { BalanceFunction, BalanceStrategy } from './router-options.js'

/** One node as the router uses it: a pool plus what the router needs to know about it. */
export interface NodeSpec {
  readonly name: string
  readonly role: 'primary' | 'replica'
  readonly weight: number
  /** The zone the node runs in, as configured (`undefined`: not given). */
  readonly zone?: string | undefined
  /** Connection settings for the router's own probe connection (password included, never printed). */
  readonly connection: pg.ClientConfig
  /** The pool user statements run on. */
  readonly pool: pg.Pool
  /** Whether the router created the pool (and so ends it in `router.end()`). */
  readonly ownsPool: boolean
}

/** {@link RouterOptions} after validation, with every default applied. */
export interface ResolvedOptions {
  /** Every node; the first guess of the primary has `role: 'primary'` (the probes decide). */
  readonly nodes: readonly NodeSpec[]
  readonly failover: { readonly waitMs: number }
  readonly lag: { readonly maxBytes: number; readonly maxMs: number }
  readonly healthCheck: {
    readonly intervalMs: number
    readonly timeoutMs: number
    readonly maxBackoffMs: number
    readonly idleAfterMs: number
    readonly idleIntervalMs: number
  }
  readonly balance: BalanceStrategy | BalanceFunction
  /** The zone this router runs in (`undefined`: not given). */
  readonly zone: string | undefined
  readonly fallback: 'primary' | 'error'
  readonly retry: { readonly retries: number; readonly minTimeoutMs: number; readonly maxTimeoutMs: number }
  readonly timeouts: { readonly readMs: number; readonly writeMs: number }
  readonly readYourWrites: {
    readonly maxWaitMs: number
    readonly directCheck: boolean
    readonly synchronousApply: boolean
  }
  readonly writeFunctions: readonly string[]
  /** pg's `types` for the pools the router creates, if given. */
  readonly types: pg.CustomTypesConfig | undefined
  readonly classifierCacheSize: number
  /** The classifier built from `writeFunctions` and `classifierCacheSize`. */
  readonly classifier: Classifier
  readonly routeEvents: boolean
  readonly learnRouting: boolean
  readonly logger: Logger | undefined
  readonly openTelemetry: boolean
  /** Every password the router knows, so diagnostics can be scrubbed of them. */
  readonly secrets: readonly string[]
}
