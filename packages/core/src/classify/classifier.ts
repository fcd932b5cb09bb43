import type { Classification, Classifier, ClassifierOptions } from './classification.js'
import { resolveClassifierOptions } from './classifier-options.js'
import { FunctionMatcher, type QualifiedName } from './function-matcher.js'
import { LruCache } from './lru-cache.js'
import { TextAnalyzer } from './text-analyzer.js'
import { DEFAULT_WRITE_FUNCTIONS } from './write-functions.js'

// Built-in names are taken as the catalog spells them: a name with capitals is only called quoted.
const builtInFunctions: readonly QualifiedName[] = DEFAULT_WRITE_FUNCTIONS.map((name) => ({
  schema: undefined,
  name,
}))

function requireText(sql: unknown): string {
  if (typeof sql !== 'string')
    throw new TypeError(`classify() expects the SQL text as a string, got ${typeof sql}`)
  return sql
}

/**
 * Creates a SQL statement classifier: a single-pass lexer that decides whether a text may run on a hot-standby
 * replica or needs the primary, with an LRU cache of recent texts. Unknown or unparseable text goes to the
 * primary. The rules are in `docs/routing-rules.md`.
 *
 * @throws {ConfigError} when an option is invalid, naming it.
 *
 * @example
 * ```ts
 * import { createClassifier } from '@pgroute/core'
 *
 * const classifier = createClassifier({ writeFunctions: ['audit.log_access'] })
 * classifier.classify('SELECT * FROM posts WHERE id = $1') // { target: 'replica', reason: 'read' }
 * classifier.classify('SELECT audit.log_access($1)') // { target: 'primary', reason: 'volatile-function:audit.log_access' }
 * classifier.classify('BEGIN READ ONLY') // { target: 'replica', reason: 'transaction-begin-read-only', transaction: 'begin-read-only' }
 * ```
 */
export function createClassifier(options?: ClassifierOptions): Classifier {
  const { writeFunctions, cacheSize, maxCachedLength } = resolveClassifierOptions(options)
  const analyzer = new TextAnalyzer(new FunctionMatcher(writeFunctions, builtInFunctions))
  if (cacheSize === 0) return { classify: (sql) => analyzer.analyze(requireText(sql)) }
  const cache = new LruCache<Classification>(cacheSize)
  return {
    classify(sql) {
      const cached = cache.get(sql)
      if (cached !== undefined) return cached
      const classification = analyzer.analyze(requireText(sql))
      if (sql.length <= maxCachedLength) cache.set(sql, classification)
      return classification
    },
  }
}

let sharedClassifier: Classifier | undefined
const classifiersByFunctions = new WeakMap<readonly string[], Classifier>()

/**
 * Classifies one SQL text with default options, through a shared cached classifier. Passing `writeFunctions`
 * uses a classifier made for that array (kept while the array lives; the array is read once, so pass the same
 * array every time).
 *
 * @example
 * ```ts
 * import { classify } from '@pgroute/core'
 *
 * classify('WITH gone AS (DELETE FROM jobs RETURNING id) SELECT count(*) FROM gone')
 * // { target: 'primary', reason: 'writable-cte' }
 * ```
 */
export function classify(
  sql: string,
  options?: { readonly writeFunctions?: readonly string[] },
): Classification {
  const writeFunctions = options?.writeFunctions
  if (writeFunctions === undefined || (Array.isArray(writeFunctions) && writeFunctions.length === 0)) {
    sharedClassifier ??= createClassifier()
    return sharedClassifier.classify(sql)
  }
  let classifier = classifiersByFunctions.get(writeFunctions)
  if (classifier === undefined) {
    classifier = createClassifier({ writeFunctions })
    classifiersByFunctions.set(writeFunctions, classifier)
  }
  return classifier.classify(sql)
}
