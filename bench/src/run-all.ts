/**
 * Runs every benchmark of bench/src in turn and prints each one's table: `pnpm bench` (all of them) or
 * `pnpm bench core-throughput read-after-write` (those named). Each bench's rows are also written to
 * `bench/results/<name>.json` with the date, machine and settings (`bench-results.ts`), which `pnpm figures`
 * turns into the README's figures. The contract a bench module follows is in bench/README.md.
 *
 * Unless set already, `BENCH_ROUNDS` and `BENCH_ROUND_MS` get values that keep the whole run under about five
 * minutes on a 2-core machine; a bench run on its own uses its longer defaults.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { BenchModule } from './bench-module.js'
import { benchSettings, currentMachine, saveResults } from './bench-results.js'

/** Every bench, in the order they run. A file that does not exist (yet) is reported and skipped. */
const BENCHES = [
  'core-throughput',
  'classify-cost',
  'classify-latency',
  'learned-routing',
  'read-after-write',
  'sync-read-after-write',
  'session-read',
  'kysely-throughput',
  'drizzle-throughput',
  'client-overhead',
  'otel-overhead',
  'http-overhead',
  'peers',
  'fleet',
  'distance',
] as const

const HELP = `Usage: pnpm bench [<bench>...]

Runs benchmarks against a real PostgreSQL cluster started on 127.0.0.1 and prints one table per bench.
With no names, runs all of them (about 10 minutes on 2 cores); with names, only those. Each bench's rows
are written to bench/results/<bench>.json (with date, machine and settings); pnpm figures puts them in README.md.

Benches:
  core-throughput     router.pool.query and router.query vs a plain pg.Pool on the same server
  classify-cost       nanoseconds per classify() call, uncached and cached
  classify-latency    p50 / p99 / max of one uncached classify() over ORM-shaped texts
  learned-routing     refused round trips of a writing SELECT fn(), with and without learnRouting
  read-after-write    stale reads right after a write: pgroute sessions vs Drizzle withReplicas, kysely-replication
  sync-read-after-write  a session's read after its write on a remote_apply synchronous standby vs the LSN wait
  session-read        a session's read right after its write vs a plain read: p50, added round trips, stale reads,
                      on loopback and with every node behind a delay proxy
  kysely-throughput   PgRouteDialect vs Kysely's PostgresDialect
  drizzle-throughput  pgrouteDrizzle vs drizzle(pg.Pool)
  client-overhead     client CPU per query of Kysely's pinned path, router.pool clients and router.pool.query,
                      each beside the same code on a plain pg.Pool, the server answered from memory
  otel-overhead       the router without OpenTelemetry installed, and with the SDK: pgroute's telemetry off vs on
  http-overhead       Express, Fastify, Hono: a request that touches no database, with and without readYourWrites
  peers               pg.Pool, pgroute, pgpool-II and the AWS Advanced NodeJS Wrapper, read-only and 90/10 read/write
  fleet               N routers in several processes: connections, probes/s, probe CPU per server; memory per router;
                      probing every second vs adaptive, and the idle fleet's reduction
  distance            one near and one far replica under the chaos load: read p50 vs near only, saturated reads/s
                      vs the two replicas' combined capacity, stale session reads, balance 'random' vs 'nearest'

Settings (environment variables):
  BENCH_ROUNDS          interleaved rounds per comparison (default here 8; 15 for a bench run alone)
  BENCH_ROUND_MS        length of one client's turn in a round, ms (default here 600; 1000 alone)
  BENCH_RAW_MS          how long each read-after-write contender runs, ms (default 4000)
  BENCH_CLASSIFY_CALLS  calls per timed loop of classify-cost (default 100000)
  BENCH_CLASSIFY_BATCH  calls per timed sample of classify-latency (default 50)
  BENCH_CLASSIFY_SAMPLES  samples per statement in classify-latency (default 20)
  BENCH_LEARNED_CALLS   calls per set-up in learned-routing (default 1000)
  BENCH_FLEET_ROUTERS   fleet sizes of fleet, e.g. 1,10,100 (default 1,10,100; also --routers)
  BENCH_FLEET_PER_PROCESS  routers per fleet process (default 50)
  BENCH_FLEET_WINDOW_MS    length of each measured window of fleet, ms (default 5000)
  BENCH_FLEET_RATE      light traffic of fleet, operations per second per router (default 2)
  BENCH_DISTANCE_NEAR   round-trip time distance adds to the near replica, ms (default 0)
  BENCH_DISTANCE_FAR    round-trip time distance adds to the far replica, ms (default 3)
  BENCH_SESSION_DELAY   round-trip time session-read adds to every node in its second set-up, ms (default 2)
  BENCH_SESSION_CALLERS callers of session-read, each on its own row (default 1)

One bench alone, with its longer defaults:
  node --conditions=pgroute-source --import tsx bench/src/<bench>.ts

Options:
  --routers <n[,n...]>  fleet sizes of the fleet bench (sets BENCH_FLEET_ROUTERS), e.g. --routers 200
  -h, --help            show this help

Exit status: 0 when every bench ran, 1 when one failed, 2 for unknown names or options.
See bench/README.md for how the figures are taken.
`

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP)
  process.exit(0)
}
// `--routers 1,10,100` (or `--routers=...`): the fleet bench's sizes, passed on in the environment.
const rest: string[] = []
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!
  if (arg !== '--routers' && !arg.startsWith('--routers=')) {
    rest.push(arg)
    continue
  }
  const sizes = arg === '--routers' ? args[++i] : arg.slice('--routers='.length)
  if (sizes === undefined || !/^[1-9]\d*(,[1-9]\d*)*$/.test(sizes)) {
    console.error(`--routers needs fleet sizes, e.g. --routers 200 or --routers 1,10,100\n\n${HELP}`)
    process.exit(2)
  }
  process.env.BENCH_FLEET_ROUTERS = sizes
}
const options = rest.filter((arg) => arg.startsWith('-'))
if (options.length > 0) {
  console.error(`Unknown option ${options.join(', ')}\n\n${HELP}`)
  process.exit(2)
}
const wanted = rest
const unknown = wanted.filter((name) => !(BENCHES as readonly string[]).includes(name))
if (unknown.length > 0) {
  console.error(`Unknown bench ${unknown.join(', ')}; known: ${BENCHES.join(', ')} (pnpm bench --help)`)
  process.exit(2)
}

process.env.BENCH_ROUNDS ??= '8'
process.env.BENCH_ROUND_MS ??= '600'

const machine = currentMachine()
console.log(
  `pgroute benchmarks — ${new Date().toISOString()} — node ${machine.node}, ${machine.platform}, ` +
    `${machine.cpus}, load average ${machine.loadAverage.map((load) => load.toFixed(2)).join(' ')}`,
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
  const date = new Date().toISOString()
  const machineThen = currentMachine()
  try {
    const bench = (await import(`./${name}.js`)) as BenchModule
    const rows = await bench.run()
    console.log(`== ${name} (${((performance.now() - benchStarted) / 1000).toFixed(1)} s)`)
    console.table(rows)
    const file = saveResults({
      bench: name,
      command: `pnpm bench ${name}`,
      date,
      machine: machineThen,
      settings: benchSettings(),
      rows,
    })
    console.log(`rows written to ${path.relative(process.cwd(), file)}`)
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
