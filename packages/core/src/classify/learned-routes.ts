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
/**
 * How long a learned route holds, in ms: what made a replica refuse a text (a function that writes, an unlogged
 * table) can change without the router seeing it (a migration run by another process). Relearning costs one
 * refused round trip per text.
 */
export const LEARNED_ROUTE_TTL_MS = 5 * 60_000
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

/** How many routes were learned and forgotten (`router.health().learnedRoutes`). */
export interface LearnedRouteCounts {
  /** Texts remembered now. */
  readonly size: number
  /** Routes learned so far (including relearned ones). */
  readonly learned: number
  /** Routes dropped because they outlived {@link LEARNED_ROUTE_TTL_MS}. */
  readonly expired: number
  /** Routes dropped because a statement that may change their answer (DDL) went through the router. */
  readonly invalidated: number
}

/**
 * Statements that can change why a replica refused a text: `CREATE`, `ALTER` or `DROP` of anything (a function
 * that now writes or no longer does, a table set LOGGED or UNLOGGED, dropped and created again, a view over
 * another table), anywhere in the text (a migration sends several statements at once). A false match costs only a
 * relearning.
 */
const SCHEMA_CHANGE = /\b(?:create|alter|drop)\b/i

interface Entry {
  readonly reason: LearnedReason
  /** When it was learned (ms, the routes' clock). */
  readonly learnedAt: number
  /** Set once it outlived the TTL (it stays in the LRU, inert, until relearned or evicted). */
  expired: boolean
  hits: number
  /** The route, made on the first hit: the same text always classifies the same way. */
  routed: Classification | undefined
}

/**
 * Statement texts that replicas refused, remembered in a bounded LRU so that they go straight to the primary:
 * what the text cannot tell (a user function that writes, a read of an UNLOGGED table) costs one refused
 * round trip, not one per call. Keyed by the exact text, as the classifier's cache is.
 *
 * A route does not hold for ever: it expires after {@link LEARNED_ROUTE_TTL_MS}, and every route is forgotten when
 * a statement that may change the answer (DDL: `CREATE`, `ALTER`, `DROP`) is routed to the primary. Either way the
 * text goes to a replica again, and is learned again if it is still refused.
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
  readonly #capacity: number
  readonly #ttlMs: number
  readonly #now: () => number
  #routes: LruCache<Entry>
  #learned = 0
  #expired = 0
  #invalidated = 0

  /**
   * @param capacity Statement texts remembered, at least 1 ({@link DEFAULT_LEARNED_ROUTES}).
   * @param ttlMs How long a learned route holds ({@link LEARNED_ROUTE_TTL_MS}).
   * @param now The clock (ms).
   */
  constructor(capacity = DEFAULT_LEARNED_ROUTES, ttlMs = LEARNED_ROUTE_TTL_MS, now: () => number = Date.now) {
    this.#capacity = capacity
    this.#ttlMs = ttlMs
    this.#now = now
    this.#routes = new LruCache(capacity)
  }

  /** Number of texts remembered (expired ones included until relearned or evicted). */
  get size(): number {
    return this.#routes.size
  }

  /** How many routes were learned, expired and invalidated so far, and how many hold now. */
  counts(): LearnedRouteCounts {
    return {
      size: this.entries().length,
      learned: this.#learned,
      expired: this.#expired,
      invalidated: this.#invalidated,
    }
  }

  /** Remembers that a replica refused `text` for `reason`. False when the text is too long to remember. */
  learn(text: string, reason: LearnedReason): boolean {
    if (text.length > MAX_LEARNED_LENGTH) return false
    if (this.#entry(text) === undefined) {
      this.#routes.set(text, { reason, learnedAt: this.#now(), expired: false, hits: 0, routed: undefined })
      this.#learned++
    }
    return true
  }

  /** The reason `text` was learned for, or undefined (also once it expired). */
  lookup(text: string): LearnedReason | undefined {
    return this.#entry(text)?.reason
  }

  /** Forgets every route (a statement that may change their answer ran). */
  forget(): void {
    if (this.#routes.size === 0) return
    this.#invalidated += this.entries().length
    this.#routes = new LruCache(this.#capacity)
  }

  /**
   * The route for `text`: `classification` unless the text was learned (and has not expired) and the classifier
   * would send it to a replica; then the primary, with reason `learned:<reason>` (the transaction field is kept).
   * A text for the primary that may change the schema (DDL) makes every route forgotten.
   */
  route(text: string, classification: Classification): Classification {
    if (this.#routes.size === 0) return classification
    if (classification.target === 'primary') {
      if (SCHEMA_CHANGE.test(text)) this.forget()
      return classification
    }
    const entry = this.#entry(text)
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

  /** What is remembered and has not expired, least recently used first. */
  entries(): LearnedRoute[] {
    const now = this.#now()
    return [...this.#routes.entries()]
      .filter(([, entry]) => now - entry.learnedAt < this.#ttlMs)
      .map(([text, { reason, hits }]) => ({ statement: text.slice(0, 200), reason, hits }))
  }

  /** The entry of `text`, unless it expired (counted once, when first found so). */
  #entry(text: string): Entry | undefined {
    const entry = this.#routes.get(text)
    if (entry === undefined || this.#now() - entry.learnedAt < this.#ttlMs) return entry
    if (!entry.expired) {
      entry.expired = true
      this.#expired++
    }
    return undefined
  }
}
