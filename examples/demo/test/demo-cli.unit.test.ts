import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'

const demo = path.join(import.meta.dirname, '..', 'src', 'demo.ts')
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** Runs `pnpm demo` the way the root script does, with `args`; none of these start a cluster. */
function run(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--conditions=pgroute-source', '--import', tsxLoader, demo, ...args],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  )
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

it('--help and -h print the usage with every option and exit 0 without starting anything', () => {
  for (const flag of ['--help', '-h']) {
    const { code, stdout } = run(flag)
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: pnpm demo/)
    for (const option of [
      '--app',
      '--duration',
      '--users',
      '--kill-replica',
      '--no-tokens',
      '--far-replica',
    ]) {
      expect(stdout).toContain(option)
    }
    expect(stdout).not.toContain('Starting PostgreSQL')
  }
})

it('an unknown option or a bad value exits 2, naming it', () => {
  const option = run('--dration', '5')
  expect(option.code).toBe(2)
  expect(option.stderr).toContain("Unknown option '--dration'")
  const far = run('--far-replica', '3 parsecs')
  expect(far.code).toBe(2)
  expect(far.stderr).toContain('Invalid option `farReplica`')
  expect(far.stdout).toBe('')
  const value = run('--app', 'prisma')
  expect(value.code).toBe(2)
  expect(value.stderr).toContain('Invalid option `app`')
  // Rejected before anything loads: not even the start-up lines.
  expect(value.stdout).toBe('')
})
