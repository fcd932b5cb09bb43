/**
 * What classifying a statement costs per call: uncached (a classifier with `cacheSize: 0`, so every call scans
 * the text) and cached (the router's default classifier, hits only). A third figure repeats one hot statement in a
 * cache already holding 1000 others: the shape of a real application, where a few statements dominate.
 *
 * Each figure is the best of 5 timed loops (the least disturbed by the rest of the machine).
 * `BENCH_CLASSIFY_CALLS` (100000) sets the calls per loop.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/classify-cost.ts`
 */
import { type Classifier, createClassifier } from '@pgroute/core'
import { envNumber } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'

export const name = 'classify-cost'

const STATEMENTS: ReadonlyArray<readonly [kind: string, sql: string]> = [
  ['point select', 'SELECT id, title, body FROM posts WHERE id = $1'],
  [
    'join + order',
    `SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.author_id
     WHERE p.published AND u.org_id = $1 ORDER BY p.created_at DESC LIMIT 20`,
  ],
  ['insert returning', 'INSERT INTO posts (title, body, author_id) VALUES ($1, $2, $3) RETURNING id'],
  ['update', 'UPDATE posts SET title = $1, updated_at = now() WHERE id = $2'],
  ['locking read', 'SELECT id, balance FROM accounts WHERE id = $1 FOR UPDATE'],
  [
    'writable CTE',
    'WITH moved AS (DELETE FROM inbox WHERE id = $1 RETURNING *) INSERT INTO archive SELECT * FROM moved',
  ],
  ['BEGIN READ ONLY', 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'],
  [
    'analytic, ~1.5 kB',
    `SELECT date_trunc('day', o.created_at) AS day, c.country, count(*) AS orders, sum(o.total) AS revenue,
       avg(o.total) FILTER (WHERE o.coupon IS NOT NULL) AS with_coupon,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY o.total) AS p90 ${"/* padding: 'quoted ; text' */ ".repeat(30)}
     FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN refunds r ON r.order_id = o.id
     WHERE o.created_at >= $1 AND o.created_at < $2 AND r.id IS NULL
     GROUP BY 1, 2 HAVING count(*) > 10 ORDER BY 1, 4 DESC`,
  ],
]

/** Nanoseconds per call: the best of 5 loops of `calls` calls of `fn` over `texts` in turn. */
function nsPerCall(classifier: Classifier, texts: readonly string[], calls: number): number {
  let best = Number.POSITIVE_INFINITY
  let replica = 0
  for (let loop = 0; loop < 5; loop++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) {
      if (classifier.classify(texts[i % texts.length]!).target === 'replica') replica++
    }
    best = Math.min(best, Number(process.hrtime.bigint() - started) / calls)
  }
  // Keeps the loop's work observable, so it cannot be optimised away.
  if (replica < 0) throw new Error('unreachable')
  return best
}

/** Measures every statement kind uncached and cached. */
export async function run(): Promise<BenchRow[]> {
  const calls = Math.round(envNumber('BENCH_CLASSIFY_CALLS', 100_000))
  const uncached = createClassifier({ cacheSize: 0 })
  // Warm-up: let the JIT optimise the scanner on every kind before anything is timed.
  nsPerCall(
    uncached,
    STATEMENTS.map(([, sql]) => sql),
    Math.max(1000, calls / 10),
  )
  const rows: BenchRow[] = []
  for (const [kind, sql] of STATEMENTS) {
    const cached = createClassifier()
    cached.classify(sql)
    const full = createClassifier({ cacheSize: 1000 })
    for (let i = 0; i < 999; i++) full.classify(`SELECT * FROM t${i} WHERE id = $1`)
    full.classify(sql)
    rows.push({
      bench: name,
      statement: kind,
      target: uncached.classify(sql).target,
      chars: sql.length,
      'uncached ns/call': Math.round(nsPerCall(uncached, [sql], Math.max(1000, calls / 10))),
      'cached ns/call': Math.round(nsPerCall(cached, [sql], calls)),
      'cached, 1000 entries, ns/call': Math.round(nsPerCall(full, [sql], calls / 10)),
    })
  }
  return rows
}

if (isMain(import.meta.url)) console.table(await run())
