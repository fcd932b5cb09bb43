import type { Exclusions, ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from '../session/causal-session.js'
import type { ReadYourWrites } from '../session/read-your-writes.js'

/** How long reads avoid a replica that had no connection slot free: briefly, it is busy, not broken. */
const BUSY_COOL_OFF_MS = 500

/** One attempt of a read, as the read path sees it: the replicas it went to already, and its session. */
export interface ReadAttempt extends Exclusions {
  readonly session: CausalSession | undefined
  /** Why the attempt goes where {@link ReadPath.choose} sent it, for `route` events. */
  reason: string
}

/**
 * Where a read goes: a usable replica by the `balance` option (passing over replicas cooling off after running out
 * of connection slots), within the lag bounds and, in a session with writes, one that has replayed them
 * ({@link ReadYourWrites}); else the primary (`fallback`). It chooses nodes; the request runs the read there.
 */
export class ReadPath {
  readonly #replicas: ReplicaSet
  readonly #causal: ReadYourWrites

  constructor(replicas: ReplicaSet, causal: ReadYourWrites) {
    this.#replicas = replicas
    this.#causal = causal
  }

  /** Whether reads have replicas to go to at all (nodes other than the primary, whatever their state). */
  get open(): boolean {
    return this.#replicas.all.length > 0
  }

  /**
   * The node for a read that need not see any write: an eligible replica not tried yet, else the fallback. Throws
   * `PGROUTE_NO_ELIGIBLE_NODE` when there is none and `fallback` is `'error'`.
   */
  pick(read: Exclusions): RouterNode {
    const replicas = this.#replicas
    let node = replicas.pick(read)
    while (node.role === 'replica' && node.cooling(Date.now())) {
      read.exclude(node)
      node = replicas.pick(read)
    }
    return node
  }

  /**
   * The node for an attempt of `read` that may have to see its session's writes (it waits for the WAL position
   * they reached, and may ask a replica whether it has replayed it). The node is excluded from later attempts.
   */
  async choose(read: ReadAttempt): Promise<RouterNode> {
    const { session } = read
    const required = session === undefined ? undefined : await this.#causal.required(session)
    if (required !== undefined) {
      read.reason = 'read-your-writes'
      return this.#causal.nodeFor(required, read)
    }
    const node = this.pick(read)
    read.reason = this.#replicas.reason(node, read)
    read.exclude(node)
    return node
  }

  /** Why a read went to `node`, for `route` events: `read`, or `retry` / `fallback` on the primary. */
  reason(node: RouterNode, read: Exclusions): string {
    return this.#replicas.reason(node, read)
  }

  /** A replica had no connection slot free: reads avoid it briefly. */
  coolOff(node: RouterNode): void {
    if (node.role === 'replica') node.coolOff(Date.now() + BUSY_COOL_OFF_MS)
  }
}
