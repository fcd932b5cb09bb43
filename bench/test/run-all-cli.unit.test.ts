import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'

const runAll = path.join(import.meta.dirname, '..', 'src', 'run-all.ts')
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** Runs `pnpm bench` the way the root script does, with `args`; none of these start a cluster. */
function bench(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--conditions=pgroute-source', '--import', tsxLoader, runAll, ...args],
    { encoding: 'utf8', timeout: 60_000 },
  )
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

it('--help and -h print the usage, every bench and every setting, and exit 0', () => {
  for (const flag of ['--help', '-h']) {
    const { code, stdout, stderr } = bench(flag)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: pnpm bench/)
    for (const name of [
      'core-throughput',
      'classify-cost',
      'read-after-write',
      'kysely-throughput',
      'drizzle-throughput',
      'client-overhead',
      'otel-overhead',
      'http-overhead',
      'peers',
      'fleet',
      '--routers',
      'BENCH_FLEET_ROUTERS',
      'BENCH_ROUNDS',
      'BENCH_ROUND_MS',
      'BENCH_RAW_MS',
      'BENCH_CLASSIFY_CALLS',
    ]) {
      expect(stdout).toContain(name)
    }
    // Nothing ran: the header line of a run never appeared.
    expect(stdout).not.toContain('pgroute benchmarks —')
  }
})

it('an unknown option or bench exits 2 and says what was wrong', () => {
  const option = bench('--rounds', '3')
  expect(option.code).toBe(2)
  expect(option.stderr).toContain('Unknown option --rounds')
  expect(option.stderr).toContain('Usage: pnpm bench')
  const name = bench('core-thruput')
  expect(name.code).toBe(2)
  expect(name.stderr).toContain('Unknown bench core-thruput; known: core-throughput')
})

it('--routers takes the fleet sizes (one, or a list) and refuses anything else, before any bench runs', () => {
  for (const args of [['--routers'], ['--routers', '0'], ['--routers=10,x'], ['--routers', '-5']]) {
    const { code, stderr, stdout } = bench(...args)
    expect(code).toBe(2)
    expect(stderr).toContain('--routers needs fleet sizes')
    expect(stdout).not.toContain('pgroute benchmarks —')
  }
  // Accepted: what follows is judged on its own (here an unknown bench, so nothing starts).
  for (const args of [
    ['--routers', '200', 'fleet-x'],
    ['--routers=1,10,100', 'fleet-x'],
  ]) {
    const { code, stderr } = bench(...args)
    expect(code).toBe(2)
    expect(stderr).toContain('Unknown bench fleet-x')
    expect(stderr).not.toContain('--routers')
  }
})
