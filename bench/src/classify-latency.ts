/**
 * The spread of `classify()`'s cost over statements as ORMs write them, uncached (`cacheSize: 0`: every call
 * scans the text): the Kysely, Drizzle, Prisma-shaped and TypeORM-shaped texts of the classifier's differential
 * corpus (packages/core/test/fixtures/classify-corpus.json.gz). Each sample times `BENCH_CLASSIFY_BATCH` (50)
 * calls on one statement (one call is too short for the clock) and divides; every statement is sampled
 * `BENCH_CLASSIFY_SAMPLES` (20) times, in shuffled order. Reports p50 / p99 / max per source; the goal is
 * p50 ≤ 1 µs.
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
      'goal (p50 ≤ 1 µs)': p50 <= 1000 ? 'met' : 'MISSED',
    })
  }
  return rows
}

if (isMain(import.meta.url)) console.table(await run())
