import { beforeAll, describe, expect, it } from 'vitest'
import { createClassifier } from '../src/classify/index.js'
import {
  countBy,
  type DifferentialResult,
  type Disagreement,
  loadClassifyCorpus,
  runDifferential,
} from './helpers/classify-corpus.js'
import { loadOracle } from './helpers/parse-tree-oracle.js'

/*
 * The classifier against PostgreSQL's own parser over the corpus of test/fixtures/classify-corpus.json.gz
 * (PostgreSQL's regression SQL, Kysely / Drizzle / Prisma / TypeORM shapes, a lexical torture set). The oracle
 * judges each statement from its parse tree (helpers/parse-tree-oracle.ts). Set PGROUTE_CORPUS_REPORT=1 to
 * print the figures.
 */

const corpus = loadClassifyCorpus()
let result: DifferentialResult

function show(items: readonly Disagreement[]): string[] {
  return items
    .slice(0, 20)
    .map((item) => `[${item.source}] ${item.oracle.why} -> ${item.reason}: ${item.sql.slice(0, 300)}`)
}

beforeAll(async () => {
  await loadOracle()
  result = runDifferential(corpus, createClassifier({ cacheSize: 0 }))
  if (process.env.PGROUTE_CORPUS_REPORT) {
    const sizes = Object.entries(corpus.sources).map(([source, texts]) => `${source} ${texts.length}`)
    console.info(
      [
        `corpus: ${result.statements} statements (${sizes.join(', ')}), ${result.reads} reads`,
        `unsafe on a replica: ${result.unsafeOnReplica.length}`,
        ...countBy(result.unsafeOnReplica, (item) => `  ${item.oracle.why} -> ${item.reason}`),
        `reads on the primary: ${result.readsOnPrimary.length}`,
        ...countBy(result.readsOnPrimary, (item) => `  ${item.reason}`),
        `transaction field mismatches: ${result.transactionMismatches.length}`,
        ...show(result.readsOnPrimary).map((line) => `  lost: ${line}`),
      ].join('\n'),
    )
  }
}, 120_000)

describe('classifier against PostgreSQL parser', () => {
  it('has a corpus of every source', () => {
    expect(result.statements).toBeGreaterThan(30_000)
    for (const texts of Object.values(corpus.sources)) expect(texts.length).toBeGreaterThan(50)
    expect(result.reads).toBeGreaterThan(10_000)
  })

  it('sends no statement that writes, locks or changes session state to a replica', () => {
    expect(show(result.unsafeOnReplica)).toEqual([])
  })

  it('loses at most 0.1 % of reads to the primary', () => {
    expect(
      result.readsOnPrimary.length / result.reads,
      show(result.readsOnPrimary).join('\n'),
    ).toBeLessThanOrEqual(0.001)
  })

  it('reports the transaction field as the parser sees it', () => {
    expect(show(result.transactionMismatches)).toEqual([])
  })
})
