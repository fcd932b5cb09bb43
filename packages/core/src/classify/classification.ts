/** The kind of node a statement may run on. */
export type RouteTarget = 'primary' | 'replica'

/**
 * Why the classifier chose a target; see `docs/routing-rules.md`. `volatile-function:<name>` names the
 * write function the text calls (schema-qualified when it was written so). The `learned:` reasons come only
 * from a router's `classify()`, for a text a replica refused (`learnRouting`): `learned:<LearnedReason>`.
 */
export type ClassificationReason =
  | 'read'
  | 'write'
  | 'locking-read'
  | 'writable-cte'
  | 'select-into'
  | `volatile-function:${string}`
  | 'explain-analyze-write'
  | 'copy-to-file'
  | 'session-state'
  | 'transaction-begin'
  | 'transaction-begin-read-only'
  | 'transaction-end'
  | 'transaction-control'
  | 'serializable'
  | 'multi-statement-write'
  | 'hint:primary'
  | 'hint:replica'
  | 'empty'
  | 'unknown'
  | 'unparseable'
  | 'learned:read-only'
  | 'learned:unlogged'
  | 'learned:recovery'

/**
 * What the classifier decided about one SQL text (possibly several `;`-separated statements).
 * Instances are frozen: cached ones are shared between callers.
 */
export interface Classification {
  /** Where the statement may run. */
  readonly target: RouteTarget
  /** Short machine-readable reason (see {@link ClassificationReason}). */
  readonly reason: ClassificationReason
  /**
   * Transaction control in the text, if any, so a lazily-connected client can pin its node: `begin` for
   * BEGIN / START TRANSACTION, `begin-read-only` when its modes end up READ ONLY, `end` for
   * COMMIT / END / ROLLBACK / ABORT and PREPARE TRANSACTION (not ROLLBACK TO SAVEPOINT or COMMIT AND CHAIN).
   * With several statements it is the state the last of them leaves the session in.
   */
  readonly transaction?: 'begin' | 'begin-read-only' | 'end'
}

/** Options of {@link createClassifier}. */
export interface ClassifierOptions {
  /**
   * Extra function names (optionally schema-qualified, e.g. `audit.log_access`) whose calls make a statement a
   * write, besides the built-in list. Matched case-insensitively, quoted or not; `f` matches `f(` and `any.f(`,
   * `s.f` matches `s.f(` and the unqualified `f(` (the search path may resolve it there).
   */
  readonly writeFunctions?: readonly string[]
  /** Entries of the LRU cache of classifications; 0 disables caching. Default 1000. */
  readonly cacheSize?: number
  /** Texts longer than this (in UTF-16 code units) are classified but never cached. Default 8192. */
  readonly maxCachedLength?: number
}

/** Classifies SQL texts; see {@link createClassifier}. */
export interface Classifier {
  /** Classifies one SQL text (which may hold several statements). Never throws for any string. */
  classify(sql: string): Classification
}
