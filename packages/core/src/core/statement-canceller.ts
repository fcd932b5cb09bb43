import type pg from 'pg'
import { PgRouteError } from '../errors.js'
import { cancelledByRouter } from '../pg-errors.js'
import { nodeDownError } from '../replicas/node-errors.js'
import type { RouterNode } from '../replicas/router-node.js'
import { CancelRequests } from './cancel-request.js'

/**
 * How long a node must stay down before the transaction bodies running on it are cancelled: time for the re-probe
 * that confirms or clears a suspicion (100 ms after it, bounded by `healthCheck.timeoutMs`, 500 ms by default).
 */
const BODY_GRACE_MS = 800

/** Runs `fn` now (`ms` 0), or after `ms` if `node` is still down then. */
export function whileDown(node: RouterNode, ms: number, fn: () => void): void {
  if (ms === 0) fn()
  else setTimeout(() => node.state === 'down' && fn(), ms).unref()
}

/**
 * Cancels what runs on the nodes' connections (the statements and transaction bodies each node lists in
 * `running`): one shared timer cancels those past their time limit, and {@link abandon} those of a node marked
 * down. A cancelled statement gets a cancel request on the server, and its connection is closed; its caller sees
 * the router's reason ({@link takeReason}) instead of pg's error.
 */
export class StatementCanceller {
  /** Nodes whose running statements the timer checks. */
  readonly #nodes = new Set<RouterNode>()
  /** Ticks of the timer so far: deadlines count in ticks, so the path of a statement reads no clock. */
  #ticks = 0
  readonly #tickMs: number
  /** Connections cancelled and closed: the error their statement fails with instead of pg's. */
  readonly #reasons = new Map<pg.PoolClient, PgRouteError>()
  /** Connections closed by the router: their `error` event is no news about the node. */
  readonly #discarded = new WeakSet<pg.PoolClient>()
  readonly #requests = new CancelRequests()
  readonly #timer: NodeJS.Timeout | undefined

  /** @param tickMs How often running statements are checked against their time limits (0: never). */
  constructor(tickMs: number) {
    this.#tickMs = tickMs
    if (tickMs > 0) {
      // One shared timer rather than one per statement: the path every statement takes stays timer-free.
      this.#timer = setInterval(() => this.#sweep(), tickMs)
      this.#timer.unref()
    }
  }

  /** Checks `node`'s statements against their time limits from now on. */
  track(node: RouterNode): void {
    this.#nodes.add(node)
  }

  /** Stops checking `node` (it left the router). */
  untrack(node: RouterNode): void {
    this.#nodes.delete(node)
  }

  /** The deadline, in ticks, of a statement starting now with a limit of `limitMs` (0: none). */
  deadline(limitMs: number | undefined): number {
    // Cancelled after `limitMs` plus up to two ticks (a tick is a quarter of the shortest limit).
    return limitMs ? this.#ticks + 1 + Math.ceil(limitMs / this.#tickMs) : 0
  }

  /** Cancels the statement running on `client` on the server and closes the connection; it fails with `reason`. */
  cancel(client: pg.PoolClient, reason: PgRouteError): void {
    if (this.#discarded.has(client)) return
    this.#discarded.add(client)
    this.#reasons.set(client, cancelledByRouter(reason))
    this.#requests.cancelAndClose(client)
  }

  /**
   * Closes `client`'s socket at once (nothing runs on it that needs cancelling), so that the server ends its
   * session and rolls back what it held open; its later errors are no news about its node.
   */
  discard(client: pg.PoolClient): void {
    if (this.#discarded.has(client)) return
    this.#discarded.add(client)
    this.#requests.close(client)
  }

  /** Why the router cancelled what ran on `client`, if it did; forgotten once taken. */
  takeReason(client: pg.PoolClient): PgRouteError | undefined {
    const reason = this.#reasons.get(client)
    if (reason !== undefined) this.#reasons.delete(client)
    return reason
  }

  /** Whether the router closed `client` (its errors are then no news about its node). */
  discarded(client: pg.PoolClient): boolean {
    return this.#discarded.has(client)
  }

  /**
   * `node` was marked down: after `graceMs` (if it is still down), its statements are cancelled with
   * `PGROUTE_NODE_DOWN`. Transaction bodies are cancelled after {@link BODY_GRACE_MS} at the soonest: unlike a
   * read, a transaction cannot go on elsewhere, and a node marked down by one failed statement or one slow probe
   * is up again once its re-probe answers.
   */
  abandon(node: RouterNode, graceMs: number): void {
    const cancelRunning = (bodies: boolean) => () => {
      for (const { client, body } of node.running.snapshot())
        if (body === bodies) this.cancel(client, nodeDownError(node))
    }
    whileDown(node, graceMs, cancelRunning(false))
    whileDown(node, Math.max(graceMs, BODY_GRACE_MS), cancelRunning(true))
  }

  /** Stops the timer and closes cancel requests still in flight. */
  stop(): void {
    clearInterval(this.#timer)
    this.#requests.closeAll()
  }

  /** Cancels every statement past its deadline, and fails every checkout that waited past its own. */
  #sweep(): void {
    const now = ++this.#ticks
    for (const node of this.#nodes) {
      if (node.waiting.size > 0)
        for (const checkout of node.waiting.snapshot()) {
          if (checkout.deadline === 0 || checkout.deadline > now || !node.waiting.remove(checkout)) continue
          checkout.checkoutFailed(
            cancelledByRouter(
              new PgRouteError(
                'PGROUTE_TIMEOUT',
                `No connection of ${node.name} came free within its time limit (timeouts.readMs / timeouts.writeMs): its pool is exhausted`,
              ),
            ),
          )
        }
      for (const { client, deadline } of node.running.snapshot()) {
        if (deadline === 0 || deadline > now) continue
        this.cancel(
          client,
          new PgRouteError(
            'PGROUTE_TIMEOUT',
            `The statement ran on ${node.name} past its time limit (timeouts.readMs / timeouts.writeMs) and was cancelled`,
          ),
        )
      }
    }
  }
}
