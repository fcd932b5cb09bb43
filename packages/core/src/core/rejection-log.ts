import type { Classification, LearnedReason, LearnedRouteCounts } from '../classify/index.js'
import { LearnedRoutes, learnedReason } from '../classify/index.js'
import type { RouterTracer } from '../observability/router-tracer.js'
import type { RouterNode } from '../replicas/router-node.js'

const MAX_REROUTED_STATEMENTS = 100

/** One statement of `router.reroutedStatements()`: a text replicas refused as a write. */
export interface RejectedStatement {
  /** The statement text (the first 200 characters). */
  readonly statement: string
  /** How many times a replica refused it. */
  readonly count: number
  /** Set while the text is sent straight to the primary (`learnRouting`): why the replica refused it. */
  readonly learned?: LearnedReason
}

/**
 * Statements replicas refused as writes, with counts (the newest {@link MAX_REROUTED_STATEMENTS}): the functions
 * they call are candidates for the `writeFunctions` option. With `learnRouting`, the refused texts are also
 * learned ({@link LearnedRoutes}), so that they go straight to the primary from then on.
 */
export class RejectionLog {
  readonly #counts = new Map<string, number>()
  readonly #tracer: RouterTracer
  readonly #learned: LearnedRoutes | undefined

  /** @param learn Whether refused texts are learned (`learnRouting`). */
  constructor(tracer: RouterTracer, learn: boolean) {
    this.#tracer = tracer
    this.#learned = learn ? new LearnedRoutes() : undefined
  }

  /** Counts a statement `node` refused as a write (it is then re-run on the primary), and learns it. */
  record(node: RouterNode, statement: string, error: unknown): void {
    node.countRerouted()
    const key = statement.slice(0, 200)
    if (!this.#counts.has(key) && this.#counts.size >= MAX_REROUTED_STATEMENTS) {
      this.#counts.delete(this.#counts.keys().next().value as string)
    }
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1)
    const reason = learnedReason(error)
    if (reason !== undefined) this.#learned?.learn(statement, reason)
    this.#tracer.traceReroute?.({ from: node.name, reason: 'read-only-rejection', statement: key, error })
  }

  /** What the router makes of `text`: the primary when a replica refused it before, else `classification`. */
  learned(text: string, classification: Classification): Classification {
    return this.#learned === undefined ? classification : this.#learned.route(text, classification)
  }

  /** How many routes were learned, expired and invalidated so far, and how many hold now (zeros without learning). */
  learnedCounts(): LearnedRouteCounts {
    return this.#learned?.counts() ?? { size: 0, learned: 0, expired: 0, invalidated: 0 }
  }

  /** The counts, oldest first. */
  entries(): RejectedStatement[] {
    const learned = new Map(this.#learned?.entries().map((route) => [route.statement, route.reason]))
    return [...this.#counts].map(([statement, count]) => {
      const reason = learned.get(statement)
      return reason === undefined ? { statement, count } : { statement, count, learned: reason }
    })
  }
}
