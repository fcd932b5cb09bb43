import type { ResolvedOptions } from '../config/resolved-options.js'
import { isPgRouteError, PgRouteError } from '../errors.js'
import { isConnectionError } from '../pg-errors.js'
import type { Lease } from '../replicas/lease.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { NodeConnections } from './node-connections.js'

/** Pause between connection attempts to a primary while a write waits (`failover.waitMs`). */
const RETRY_PAUSE_MS = 50

/**
 * How long a write may take, connecting included, while the primary is marked down but not confirmed down: it
 * may be back (a probe that timed out under load), so the write is tried, but a caller never waits longer than
 * this for the answer. Statements still running on a primary marked down are cancelled after it too.
 */
export const PRIMARY_DOWN_BUDGET_MS = 800

/**
 * The write's first attempt failed: when it began, and with what. `resend`: it was sent, and the server ended it
 * before it could commit (57P01): it is sent again, at once when a primary may take it.
 */
export interface FirstFailure {
  readonly startedAt: number
  readonly error: unknown
  readonly resend?: boolean
}

/** Whoever connects for the primary path: the statement's request, which checks connections out of a node. */
export interface Connector {
  /** A connection of `node`, checked out for `reason`. */
  checkout(node: RouterNode, reason: string): Promise<Lease>
  /** Gives up the checkout still waiting (a connection that comes later goes back to its pool); false if none was. */
  withdraw(): boolean
}

/**
 * How a statement reaches the primary, and the one rule for writes while no node may take them: while no writable
 * primary is known (the primary confirmed down, fenced, or in recovery), a write fails fast with
 * `PGROUTE_PRIMARY_UNAVAILABLE`, or with `failover.waitMs` waits that long for one (the same node back, or a new
 * one after a failover). A primary marked down but not confirmed (one failure so far) is still tried, within
 * {@link PRIMARY_DOWN_BUDGET_MS}. Only connecting is retried, never a statement that may have run.
 */
export class PrimaryPath {
  readonly #nodes: NodeSet
  readonly #connections: NodeConnections
  readonly #options: Pick<ResolvedOptions, 'failover'>
  readonly #scrub: (text: string) => string
  #closed = false

  constructor(
    nodes: NodeSet,
    connections: NodeConnections,
    options: Pick<ResolvedOptions, 'failover'>,
    scrub: (text: string) => string,
  ) {
    this.#nodes = nodes
    this.#connections = connections
    this.#options = options
    this.#scrub = scrub
  }

  /** The primary when it is plainly up (the path nearly every write takes, in one go), else `undefined`. */
  get up(): RouterNode | undefined {
    const primary = this.#nodes.writable
    return primary?.state === 'up' ? primary : undefined
  }

  /** When a write starting now started, if the primary is marked down (its budget counts from it); else 0. */
  downSince(): number {
    return this.#nodes.primary.state === 'down' ? Date.now() : 0
  }

  /**
   * A connection to the current primary, through `connector`. A connection error leaves the primary marked down:
   * the next attempt waits or fails the same way. Nothing was sent yet, so no write runs twice. `first`: an attempt
   * that already failed.
   */
  async checkout(connector: Connector, reason: string, first?: FirstFailure): Promise<Lease> {
    const { waitMs } = this.#options.failover
    const deadline = (first?.startedAt ?? Date.now()) + waitMs
    let failure =
      first &&
      (first.resend === true ? first.error : await this.#connectFailed(first.error, deadline, undefined))
    for (;;) {
      const nodes = this.#nodes
      const primary =
        nodes.writable ?? (waitMs > 0 ? await nodes.waitForWritable(deadline - Date.now()) : undefined)
      if (primary === undefined) throw this.unavailable(failure)
      try {
        return primary.state === 'down'
          ? await this.#checkoutWithin(connector, primary, reason)
          : await connector.checkout(primary, reason)
      } catch (error) {
        failure = await this.#connectFailed(error, deadline, failure)
      }
    }
  }

  /**
   * Holds a statement on `lease`, started at `startedAt` (0: now), to the {@link PRIMARY_DOWN_BUDGET_MS} budget
   * when its primary is marked down as it is sent: past it, the statement is cancelled with
   * `PGROUTE_PRIMARY_UNAVAILABLE`. (A statement sent to a primary that is up, the same one back or a new one after
   * a failover, has none: a primary marked down while it runs cancels it after the same budget.) Returns the timer
   * to clear once the statement ended.
   */
  budget(lease: Lease, startedAt: number): NodeJS.Timeout | undefined {
    if (lease.node.state !== 'down') return undefined
    const from = startedAt || Date.now()
    const cancel = () => this.#connections.cancel(lease, this.unavailable(lease.node.lastFailure))
    return setTimeout(cancel, Math.max(from + PRIMARY_DOWN_BUDGET_MS - Date.now(), 0)).unref()
  }

  /** The router is ending: a connection error ends a write's wait for the primary. */
  close(): void {
    this.#closed = true
  }

  /** `PGROUTE_PRIMARY_UNAVAILABLE`, naming the primary and why it cannot take writes; `cause`: the last failure. */
  unavailable(cause: unknown): PgRouteError {
    const { primary } = this.#nodes
    const why = primary.role === 'primary' ? `is ${primary.state}` : 'is no longer primary'
    const reason = primary.reason ?? primary.lastError
    const detail = reason === undefined ? '' : ` (${this.#scrub(reason)})`
    const { waitMs } = this.#options.failover
    const waited = waitMs > 0 ? ` within failover.waitMs ${waitMs}` : ''
    return new PgRouteError(
      'PGROUTE_PRIMARY_UNAVAILABLE',
      `No primary can take writes${waited}: ${primary.name} ${why}${detail}`,
      { cause: cause ?? primary.lastFailure },
    )
  }

  /**
   * Connecting to the primary failed with `error`. Rethrows what is no failure of the primary's connection (and
   * anything once the router is closing); past `deadline`, fails with `PGROUTE_PRIMARY_UNAVAILABLE`; else pauses
   * before the next attempt and returns the failure to report if none succeeds.
   */
  async #connectFailed(error: unknown, deadline: number, failure: unknown): Promise<unknown> {
    // A failure of the primary's own comes as PGROUTE_PRIMARY_UNAVAILABLE, its cause the error.
    const unavailable = isPgRouteError(error) && error.code === 'PGROUTE_PRIMARY_UNAVAILABLE'
    if ((!unavailable && !isConnectionError(error)) || this.#closed) throw error
    const cause = unavailable ? (error.cause ?? failure) : error
    const remaining = deadline - Date.now()
    if (remaining <= 0) throw this.unavailable(cause)
    // Until the re-probe confirms the outage the primary stays writable: pace the attempts meanwhile.
    await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_PAUSE_MS, remaining)).unref())
    return cause
  }

  /**
   * A connection to `node` (a primary marked down, where a connect may hang), given up after
   * {@link PRIMARY_DOWN_BUDGET_MS} with `PGROUTE_PRIMARY_UNAVAILABLE` (a connection that comes later goes back to
   * its pool).
   */
  #checkoutWithin(connector: Connector, node: RouterNode, reason: string): Promise<Lease> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (connector.withdraw()) reject(this.unavailable(undefined))
      }, PRIMARY_DOWN_BUDGET_MS)
      timer.unref()
      connector.checkout(node, reason).then(
        (lease) => {
          clearTimeout(timer)
          resolve(lease)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }
}
