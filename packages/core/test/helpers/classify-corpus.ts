import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import type { Classifier } from '../../src/classify/index.js'
import { judge, type OracleVerdict } from './parse-tree-oracle.js'

/** The differential corpus (built by test/corpus/build-classify-corpus.ts): statement texts by source. */
export interface ClassifyCorpus {
  readonly regressionFrom: string
  readonly sources: Readonly<Record<string, readonly string[]>>
}

/** Reads test/fixtures/classify-corpus.json.gz. */
export function loadClassifyCorpus(): ClassifyCorpus {
  const file = new URL('../fixtures/classify-corpus.json.gz', import.meta.url)
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as ClassifyCorpus
}

/** One statement the classifier and the oracle disagree on. */
export interface Disagreement {
  readonly source: string
  readonly sql: string
  readonly oracle: OracleVerdict
  readonly reason: string
  readonly transaction: string | undefined
}

/** Totals of a differential run. */
export interface DifferentialResult {
  readonly statements: number
  readonly reads: number
  /** Statements the oracle calls unsafe that the classifier sends to a replica. */
  readonly unsafeOnReplica: Disagreement[]
  /** Reads the classifier sends to the primary. */
  readonly readsOnPrimary: Disagreement[]
  /** Texts whose `transaction` field differs from the oracle's. */
  readonly transactionMismatches: Disagreement[]
}

/** Classifies every statement of the corpus and compares with the oracle. */
export function runDifferential(corpus: ClassifyCorpus, classifier: Classifier): DifferentialResult {
  const result: DifferentialResult = {
    statements: 0,
    reads: 0,
    unsafeOnReplica: [],
    readsOnPrimary: [],
    transactionMismatches: [],
  }
  let statements = 0
  let reads = 0
  for (const [source, texts] of Object.entries(corpus.sources)) {
    for (const sql of texts) {
      statements++
      const oracle = judge(sql)
      const { target, reason, transaction } = classifier.classify(sql)
      const disagreement = { source, sql, oracle, reason, transaction }
      if (oracle.kind === 'read') {
        reads++
        if (target === 'primary') result.readsOnPrimary.push(disagreement)
      } else if (target === 'replica') result.unsafeOnReplica.push(disagreement)
      if (transaction !== oracle.transaction) result.transactionMismatches.push(disagreement)
    }
  }
  return { ...result, statements, reads }
}

/** Counts of disagreements by a key, largest first, as `key: count` lines. */
export function countBy(items: readonly Disagreement[], key: (item: Disagreement) => string): string[] {
  const counts = new Map<string, number>()
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1]).map(([name, count]) => `${name}: ${count}`)
}
