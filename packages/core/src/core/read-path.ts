import type { RouterTracer } from '../observability/router-tracer.js'
import { isBusy, isRetryableRead } from '../pg-errors.js'
import type { Exclusions, ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import type { CheckedRead, ReplayReading } from '../session/checked-read.js'
import type { ReadYourWrites } from '../session/read-your-writes.js'

/** The route reason of a read in a `session(fn, { readOnPrimary: true })` scope. */
export const READ_ON_PRIMARY_REASON = 'read-on-primary'

/** How long reads avoid a replica that had no connection slot free: briefly, it is busy, not broken. */
const BUSY_COOL_OFF_MS = 500

/** One attempt of a read, as the read path sees it: the replicas it went to already, and its session. */
export interface ReadAttempt extends Exclusions {
  readonly session: CausalSession | undefined
  /** Why the attempt goes where {@link ReadPath.choose} sent it, for `route` events. */
  reason: string
}

/**
 * Where an attempt of a read goes when it is not the plain first one (that one asks the {@link ReplicaSet} alone):
 * in a session with writes, a node that has replayed them ({@link ReadYourWrites}); on a retry, a replica not
 * tried yet, else the primary. It chooses nodes; the request runs the read there. It also tells of reads re-run
 * elsewhere, and cools off a replica that ran out of connection slots.
 */
export class ReadPath {
  readonly #replicas: ReplicaSet
  readonly #causal: ReadYourWrites
  readonly #tracer: RouterTracer

  constructor(replicas: ReplicaSet, causal: ReadYourWrites, tracer: RouterTracer) {
    this.#replicas = replicas
    this.#causal = causal
    this.#tracer = tracer
  }

  /**
   * The node for an attempt of `read` that may have to see its session's writes (it waits for the WAL position
   * they reached, and may ask a replica whether it has replayed it). The node is excluded from later attempts.
   */
  async choose(read: ReadAttempt): Promise<RouterNode> {
    const { session } = read
    if (session?.readOnPrimary) {
      read.reason = READ_ON_PRIMARY_REASON
      return this.#replicas.readFallback()
    }
    const ruled = session === undefined ? undefined : await this.#causal.nodeFor(session, read)
    if (ruled !== undefined) return ruled
    const node = this.#replicas.pick(read)
    read.reason = this.#replicas.reason(node, read)
    read.exclude(node)
    return node
  }

  /**
   * A replica an attempt of `read` may go to with its replay position read right before it on the same connection
   * (see {@link ReadYourWrites.checkedRead}); `undefined` when the read goes the usual way.
   */
  checkedRead(read: ReadAttempt): CheckedRead | undefined {
    const { session } = read
    if (session === undefined || session.readOnPrimary) return undefined
    return this.#causal.checkedRead(session, read)
  }

  /** See {@link ReadYourWrites.confirms}. */
  confirms(
    read: ReadAttempt,
    checked: CheckedRead,
    reading: ReplayReading,
    client: object,
  ): Promise<boolean> {
    return this.#causal.confirms(checked, reading, read, client)
  }

  /**
   * Whether a read of a session sent to `node` by the read-your-writes rule may run on `client`, the connection it
   * got there: the connection must reach the server the rule read positions from. Else the read goes to the
   * primary (see {@link ReadYourWrites.answersAsProbed}).
   */
  async mayRunOn(read: ReadAttempt, node: RouterNode, client: object): Promise<boolean> {
    if (node.role !== 'replica' || !read.reason.startsWith('read-your-writes')) return true
    return this.#causal.answersAsProbed(node, client)
  }

  /** The node of a session's read that may not run where it was sent: the primary (never a fenced one). */
  fallback(): RouterNode {
    return this.#replicas.readFallback()
  }

  /**
   * A read (`text`) failed on `node` in a way worth another node: a `reroute` event; a replica that had no
   * connection slot free is avoided briefly (it is busy, not broken).
   */
  rerouted(node: RouterNode, text: string, error: unknown): void {
    if (isRetryableRead(error))
      this.#tracer.traceReroute?.({ from: node.name, reason: 'retry', statement: text.slice(0, 200), error })
    if (node.role === 'replica' && isBusy(error)) node.coolOff(Date.now() + BUSY_COOL_OFF_MS)
  }
}
