import type { ResolvedOptions } from '../config/resolved-options.js'
import { PgRouteError } from '../errors.js'
import { isConnectionError } from '../pg-errors.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { Lease, StatementRunner } from './statement-runner.js'

/** Pause between connection attempts to a primary while a write waits (`failover.waitMs`). */
const RETRY_PAUSE_MS = 50

/** What {@link PrimaryPath} needs of the router. */
export interface PrimaryPathDeps {
  readonly nodes: NodeSet
  readonly runner: StatementRunner
  readonly options: Pick<ResolvedOptions, 'failover'>
  /** Removes passwords from a diagnostic text. */
  readonly scrub: (text: string) => string
  /** Whether the router is closing: a connection error then ends the wait. */
  readonly closed: () => boolean
}

/**
 * How a write reaches the primary: the one rule for writes while no node may take them. While the primary is
 * known down or fenced, a write fails fast with `PGROUTE_PRIMARY_UNAVAILABLE`, or with `failover.waitMs` waits
 * that long for a primary (the same node back, or a new one after a failover).
 */
export class PrimaryPath {
  readonly #deps: PrimaryPathDeps

  constructor(deps: PrimaryPathDeps) {
    this.#deps = deps
  }

  /**
   * A connection to the current primary. A connection error leaves the primary marked down: the next attempt
   * waits or fails the same way. Nothing was sent yet, so no write runs twice.
   */
  async lease(reason: string): Promise<Lease> {
    const { nodes, runner, options, closed } = this.#deps
    const { waitMs } = options.failover
    const deadline = Date.now() + waitMs
    let failure: unknown
    for (;;) {
      const primary =
        nodes.writable ?? (waitMs > 0 ? await nodes.waitForWritable(deadline - Date.now()) : undefined)
      if (primary === undefined) throw this.unavailable(failure)
      try {
        return await runner.acquire(primary, reason)
      } catch (error) {
        if (!isConnectionError(error) || closed()) throw error
        failure = error
        const remaining = deadline - Date.now()
        if (remaining <= 0) throw this.unavailable(failure)
        // Until the re-probe confirms the outage the primary stays writable: pace the attempts meanwhile.
        await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_PAUSE_MS, remaining)).unref())
      }
    }
  }

  /** `PGROUTE_PRIMARY_UNAVAILABLE`, naming the primary and why it cannot take writes. */
  unavailable(cause: unknown): PgRouteError {
    const { nodes, options, scrub } = this.#deps
    const { primary } = nodes
    const why = primary.role === 'primary' ? `is ${primary.state}` : 'is no longer primary'
    const detail = primary.reason === undefined ? '' : ` (${scrub(primary.reason)})`
    const { waitMs } = options.failover
    const waited = waitMs > 0 ? ` within failover.waitMs ${waitMs}` : ''
    return new PgRouteError(
      'PGROUTE_PRIMARY_UNAVAILABLE',
      `No primary can take writes${waited}: ${primary.name} ${why}${detail}`,
      { cause },
    )
  }
}
