/**
 * Runs every benchmark of bench/src in turn and prints each one's table: `pnpm bench` (all of them) or
 * `pnpm bench core-throughput read-after-write` (those named). The contract a bench module follows is in
 * bench/README.md.
 *
 * Unless set already, `BENCH_ROUNDS` and `BENCH_ROUND_MS` get values that keep the whole run under about three
 * minutes on a 2-core machine; a bench run on its own uses its longer defaults.
 */
import { existsSync } from 'node:fs'
import os from 'node:os'
import type { BenchModule } from './bench-kit.js'

/** Every bench, in the order they run. A file that does not exist (yet) is reported and skipped. */
const BENCHES = [
  'core-throughput',
  'classify-cost',
  'classify-latency',
  'learned-routing',
  'read-after-write',
  'kysely-throughput',
  'drizzle-throughput',
] as const

process.env.BENCH_ROUNDS ??= '8'
process.env.BENCH_ROUND_MS ??= '600'

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !(BENCHES as readonly string[]).includes(name))
if (unknown.length > 0) {
  console.error(`Unknown bench ${unknown.join(', ')}; known: ${BENCHES.join(', ')}`)
  process.exit(2)
}

const cpus = os.cpus()
console.log(
  `pgroute benchmarks — ${new Date().toISOString()} — node ${process.version}, ${os.platform()} ${os.arch()}, ` +
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, load average ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
)
console.log(`BENCH_ROUNDS=${process.env.BENCH_ROUNDS} BENCH_ROUND_MS=${process.env.BENCH_ROUND_MS}\n`)

const started = performance.now()
let failed = false
for (const name of BENCHES) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  if (!existsSync(new URL(`./${name}.ts`, import.meta.url))) {
    console.log(`== ${name}: skipped (bench/src/${name}.ts does not exist)\n`)
    continue
  }
  const benchStarted = performance.now()
  try {
    const bench = (await import(`./${name}.js`)) as BenchModule
    const rows = await bench.run()
    console.log(`== ${name} (${((performance.now() - benchStarted) / 1000).toFixed(1)} s)`)
    console.table(rows)
    console.log()
  } catch (error) {
    failed = true
    console.error(`== ${name}: FAILED after ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`)
    console.error(error)
    console.log()
  }
}
console.log(`All done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
if (failed) process.exitCode = 1
