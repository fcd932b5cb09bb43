import type { Classification, ClassificationReason } from './classification.js'
import { LruCache } from './lru-cache.js'

/**
 * Why a replica refused a statement, by SQLSTATE: `read-only` (25006, it writes: a user function that
 * inserts, say), `unlogged` (0A000, it reads an unlogged or temporary table, which a standby does not have),
 * `recovery` (55000, it needs a server that is not in recovery).
 */
export type LearnedReason = 'read-only' | 'unlogged' | 'recovery'

/** One statement text learned from a replica's refusal. */
export interface LearnedRoute {
  /** The statement text (the first 200 characters). */
  readonly statement: string
  readonly reason: LearnedReason
  /** How many times it was sent straight to the primary since it was learned. */
  readonly hits: number
}

/** Default number of statement texts remembered. */
export const DEFAULT_LEARNED_ROUTES = 1000
/** Longer texts are not remembered (they are usually generated with inlined values and never repeat). */
export const MAX_LEARNED_LENGTH = 8192

const REASONS: Readonly<Record<string, LearnedReason>> = {
  '25006': 'read-only',
  '0A000': 'unlogged',
  '55000': 'recovery',
}

/**
 * The reason to learn from the error a replica answered a statement with, or undefined when the error
 * teaches nothing about where the statement belongs.
 */
export function learnedReason(error: unknown): LearnedReason | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? REASONS[code] : undefined
}

interface Entry {
  readonly reason: LearnedReason
  hits: number
  /** The route, made on the first hit: the same text always classifies the same way. */
  routed: Classification | undefined
}

/**
 * Statement texts that replicas refused, remembered in a bounded LRU so that they go straight to the primary:
 * what the text cannot tell (a user function that writes, a read of an UNLOGGED table) costs one refused
 * round trip, not one per call. Keyed by the exact text, as the classifier's cache is.
 *
 * @example
 * ```ts
 * const learned = new LearnedRoutes()
 * learned.learn('SELECT add_job($1)', 'read-only')
 * learned.route('SELECT add_job($1)', classify('SELECT add_job($1)'))
 * // { target: 'primary', reason: 'learned:read-only' }
 * ```
 */
export class LearnedRoutes {
  readonly #routes: LruCache<Entry>

  /** @param capacity Statement texts remembered, at least 1 ({@link DEFAULT_LEARNED_ROUTES}). */
  constructor(capacity = DEFAULT_LEARNED_ROUTES) {
    this.#routes = new LruCache(capacity)
  }

  /** Number of texts remembered. */
  get size(): number {
    return this.#routes.size
  }

  /** Remembers that a replica refused `text` for `reason`. False when the text is too long to remember. */
  learn(text: string, reason: LearnedReason): boolean {
    if (text.length > MAX_LEARNED_LENGTH) return false
    if (this.#routes.get(text) === undefined) this.#routes.set(text, { reason, hits: 0, routed: undefined })
    return true
  }

  /** The reason `text` was learned for, or undefined. */
  lookup(text: string): LearnedReason | undefined {
    return this.#routes.get(text)?.reason
  }

  /**
   * The route for `text`: `classification` unless the text was learned and the classifier would send it to
   * a replica; then the primary, with reason `learned:<reason>` (the transaction field is kept).
   */
  route(text: string, classification: Classification): Classification {
    if (classification.target === 'primary' || this.#routes.size === 0) return classification
    const entry = this.#routes.get(text)
    if (entry === undefined) return classification
    entry.hits++
    if (entry.routed === undefined) {
      const reason: ClassificationReason = `learned:${entry.reason}`
      const { transaction } = classification
      entry.routed = Object.freeze(
        transaction === undefined
          ? { target: 'primary', reason }
          : { target: 'primary', reason, transaction },
      )
    }
    return entry.routed
  }

  /** What is remembered, least recently used first. */
  entries(): LearnedRoute[] {
    return [...this.#routes.entries()].map(([text, { reason, hits }]) => ({
      statement: text.slice(0, 200),
      reason,
      hits,
    }))
  }
}
