/**
 * The spread of `classify()`'s cost over statements as ORMs write them, uncached (`cacheSize: 0`: every call
 * scans the text): the Kysely, Drizzle, Prisma-shaped and TypeORM-shaped texts of the classifier's differential
 * corpus (packages/core/test/fixtures/classify-corpus.json.gz). Each sample times `BENCH_CLASSIFY_BATCH` (50)
 * calls on one statement (one call is too short for the clock) and divides; every statement is sampled
 * `BENCH_CLASSIFY_SAMPLES` (20) times, in shuffled order. Reports p50 / p99 / max per source; the goal is
 * p50 ≤ 1 µs and p99 ≤ 3 µs for statements under 1 KB. Then the cost per character of texts of 1 KB to 100 KB
 * (ORM statements joined with UNION ALL), which must stay flat: classification is linear in the text's length.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/classify-latency.ts`
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { createClassifier } from '@pgroute/core'
import { envNumber } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'

export const name = 'classify-latency'

const ORM_SOURCES = ['kysely', 'drizzle', 'prisma', 'typeorm'] as const

function ormStatements(): Record<string, readonly string[]> {
  const file = new URL('../../packages/core/test/fixtures/classify-corpus.json.gz', import.meta.url)
  const { sources } = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as {
    sources: Record<string, string[]>
  }
  return Object.fromEntries(ORM_SOURCES.map((source) => [source, sources[source] ?? []]))
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}

/** Per-call nanoseconds of every sample, over `texts`. */
function samples(texts: readonly string[], batch: number, rounds: number): number[] {
  const classifier = createClassifier({ cacheSize: 0 })
  const order = Array.from({ length: texts.length * rounds }, (_, i) => i % texts.length)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const out: number[] = []
  let replica = 0
  for (const index of order) {
    const sql = texts[index]!
    const started = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) if (classifier.classify(sql).target === 'replica') replica++
    out.push(Number(process.hrtime.bigint() - started) / batch)
  }
  // Keeps the loop's work observable, so it cannot be optimised away.
  if (replica < 0) throw new Error('unreachable')
  return out.sort((a, b) => a - b)
}

/** p50 / p99 / max of uncached classification, per ORM and over all of them. */
export async function run(): Promise<BenchRow[]> {
  const batch = Math.round(envNumber('BENCH_CLASSIFY_BATCH', 50))
  const rounds = Math.round(envNumber('BENCH_CLASSIFY_SAMPLES', 20))
  const bySource = ormStatements()
  const all = Object.values(bySource).flat()
  samples(all, batch, 2) // warm-up: let the JIT optimise the scanner before anything is timed
  const rows: BenchRow[] = []
  const groups: Array<[source: string, texts: readonly string[]]> = [
    ...Object.entries(bySource),
    ['all ORM', all],
  ]
  for (const [source, texts] of groups) {
    const sorted = samples(texts, batch, rounds)
    const p50 = percentile(sorted, 50)
    rows.push({
      bench: name,
      source,
      statements: texts.length,
      'mean chars': Math.round(texts.reduce((sum, text) => sum + text.length, 0) / texts.length),
      'p50 ns': Math.round(p50),
      'p99 ns': Math.round(percentile(sorted, 99)),
      'max ns': Math.round(sorted.at(-1)!),
      'goal (p50 ≤ 1 µs, p99 ≤ 3 µs)': p50 <= 1000 && percentile(sorted, 99) <= 3000 ? 'met' : 'MISSED',
    })
  }
  rows.push(...linearity(all))
  return rows
}

/** ns per character of one uncached call on texts of growing length: flat when the cost is linear. */
function linearity(texts: readonly string[]): BenchRow[] {
  const classifier = createClassifier({ cacheSize: 0 })
  const reads = texts.filter((sql) => sql.startsWith('select') || sql.startsWith('SELECT'))
  const rows: BenchRow[] = []
  const sized = [1_000, 10_000, 100_000].map((size) => {
    let text = reads[0]!
    for (let i = 1; text.length < size; i++) text += ` UNION ALL ${reads[i % reads.length]!}`
    return text
  })
  // Warm-up on every size, so that no size is timed before the JIT settles.
  for (const text of sized)
    for (let i = 0; i < Math.round(1_000_000 / text.length); i++) classifier.classify(text)
  for (const text of sized) {
    const calls = Math.max(5, Math.round(2_000_000 / text.length))
    const started = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) classifier.classify(text)
    const ns = Number(process.hrtime.bigint() - started) / calls
    rows.push({
      bench: name,
      source: `${Math.round(text.length / 1000)} KB text`,
      'mean chars': text.length,
      'p50 ns': Math.round(ns),
      'ns per char': Number((ns / text.length).toFixed(2)),
    })
  }
  return rows
}

if (isMain(import.meta.url)) console.table(await run())
