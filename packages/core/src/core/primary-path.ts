import type pg from 'pg'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { isPgRouteError, PgRouteError } from '../errors.js'
import { isConnectionError } from '../pg-errors.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type {
  Lease,
  LeaseWaiter,
  Outcome,
  ReleaseMode,
  Statement,
  StatementRunner,
} from './statement-runner.js'

/** Pause between connection attempts to a primary while a write waits (`failover.waitMs`). */
const RETRY_PAUSE_MS = 50

/**
 * How long a write may take, connecting included, while the primary is marked down but not confirmed down: it
 * may be back (a probe that timed out under load), so the write is tried, but a caller never waits longer than
 * this for the answer. Statements still running on a primary marked down are cancelled after it too.
 */
export const PRIMARY_DOWN_BUDGET_MS = 800

/** What {@link PrimaryPath} needs of the router. */
export interface PrimaryPathDeps {
  readonly nodes: NodeSet
  readonly runner: StatementRunner
  readonly options: Pick<ResolvedOptions, 'failover' | 'timeouts'>
  /** Removes passwords from a diagnostic text. */
  readonly scrub: (text: string) => string
  /** Whether the router is closing: a connection error then ends the wait. */
  readonly closed: () => boolean
}

/**
 * How a write reaches the primary, and the one rule for writes while no node may take them: while no writable
 * primary is known (the primary confirmed down, fenced, or in recovery), a write fails fast with
 * `PGROUTE_PRIMARY_UNAVAILABLE`, or with `failover.waitMs` waits that long for one (the same node back, or a new
 * one after a failover). A primary marked down but not confirmed (one failure so far) is still tried, within
 * {@link PRIMARY_DOWN_BUDGET_MS}.
 */
export class PrimaryPath {
  readonly #deps: PrimaryPathDeps

  constructor(deps: PrimaryPathDeps) {
    this.#deps = deps
  }

  /** When the write starting now started, if the primary is marked down (its budget counts from it); else 0. */
  downSince(): number {
    return this.#deps.nodes.primary.state === 'down' ? Date.now() : 0
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
        return primary.state === 'down'
          ? await this.#acquireWithin(primary, reason)
          : await runner.acquire(primary, reason)
      } catch (error) {
        // The runner reports a failure of the primary's own as PGROUTE_PRIMARY_UNAVAILABLE, its cause the error.
        const unavailable = isPgRouteError(error) && error.code === 'PGROUTE_PRIMARY_UNAVAILABLE'
        if ((!unavailable && !isConnectionError(error)) || closed()) throw error
        failure = unavailable ? (error.cause ?? failure) : error
        const remaining = deadline - Date.now()
        if (remaining <= 0) throw this.unavailable(failure)
        // Until the re-probe confirms the outage the primary stays writable: pace the attempts meanwhile.
        await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_PAUSE_MS, remaining)).unref())
      }
    }
  }

  /**
   * Runs a write on its lease, within `timeouts.writeMs`. On a primary marked down (at `started`, from
   * {@link downSince}, or since), the statement is cancelled with `PGROUTE_PRIMARY_UNAVAILABLE` once
   * {@link PRIMARY_DOWN_BUDGET_MS} is spent.
   */
  async execute<R extends pg.QueryResultRow>(
    lease: Lease,
    statement: Statement,
    mode: ReleaseMode,
    started: number,
  ): Promise<Outcome<pg.QueryResult<R>>> {
    const { runner, options } = this.#deps
    const { writeMs } = options.timeouts
    if (started === 0 && lease.node.state !== 'down')
      return runner.execute<R>(lease, statement, mode, writeMs)
    const timer = setTimeout(
      () => runner.cancel(lease, this.unavailable(lease.node.lastFailure)),
      Math.max((started || Date.now()) + PRIMARY_DOWN_BUDGET_MS - Date.now(), 0),
    )
    timer.unref()
    try {
      return await runner.execute<R>(lease, statement, mode, writeMs)
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * A connection to `node` (a primary marked down, where a connect may hang), given up after
   * {@link PRIMARY_DOWN_BUDGET_MS} with `PGROUTE_PRIMARY_UNAVAILABLE` (a connection that comes later goes back to
   * its pool).
   */
  #acquireWithin(node: RouterNode, reason: string): Promise<Lease> {
    const { runner } = this.#deps
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (runner.withdraw(node, checkout)) reject(this.unavailable(undefined))
      }, PRIMARY_DOWN_BUDGET_MS)
      timer.unref()
      const waiter: LeaseWaiter = {
        leased: (lease) => {
          clearTimeout(timer)
          resolve(lease)
        },
        failed: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      }
      const checkout = runner.checkout(node, reason, waiter)
    })
  }

  /** `PGROUTE_PRIMARY_UNAVAILABLE`, naming the primary and why it cannot take writes; `cause`: the last failure. */
  unavailable(cause: unknown): PgRouteError {
    const { nodes, options, scrub } = this.#deps
    const { primary } = nodes
    const why = primary.role === 'primary' ? `is ${primary.state}` : 'is no longer primary'
    const reason = primary.reason ?? primary.lastError
    const detail = reason === undefined ? '' : ` (${scrub(reason)})`
    const { waitMs } = options.failover
    const waited = waitMs > 0 ? ` within failover.waitMs ${waitMs}` : ''
    return new PgRouteError(
      'PGROUTE_PRIMARY_UNAVAILABLE',
      `No primary can take writes${waited}: ${primary.name} ${why}${detail}`,
      { cause: cause ?? primary.lastFailure },
    )
  }
}
