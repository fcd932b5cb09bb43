import type { RouterNode } from '../replicas/router-node.js'
import type { RerouteEvent } from './router-events.js'

const MAX_REROUTED_STATEMENTS = 100

/**
 * Statements replicas refused as writes, with counts (the newest {@link MAX_REROUTED_STATEMENTS}): the functions
 * they call are candidates for the `writeFunctions` option.
 */
export class RejectionLog {
  readonly #counts = new Map<string, number>()
  readonly #onReroute: (event: RerouteEvent) => void

  constructor(onReroute: (event: RerouteEvent) => void) {
    this.#onReroute = onReroute
  }

  /** Counts a statement `node` refused as a write (it is then re-run on the primary). */
  record(node: RouterNode, statement: string, error: unknown): void {
    node.rerouted++
    const key = statement.slice(0, 200)
    if (!this.#counts.has(key) && this.#counts.size >= MAX_REROUTED_STATEMENTS) {
      this.#counts.delete(this.#counts.keys().next().value as string)
    }
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1)
    this.#onReroute({ from: node.name, reason: 'read-only-rejection', statement: key, error })
  }

  /** The counts, oldest first. */
  entries(): Array<{ statement: string; count: number }> {
    return [...this.#counts].map(([statement, count]) => ({ statement, count }))
  }
}
