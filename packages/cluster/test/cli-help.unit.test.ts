import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'

const cli = path.join(import.meta.dirname, '..', 'src', 'cli.ts')
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** Runs the CLI with `args`; none of these start a server. */
function run(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', tsxLoader, cli, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

it('--help and -h print the usage with every command and exit 0', () => {
  for (const flag of ['--help', '-h']) {
    const { code, stdout } = run(flag)
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: pgroute-cluster <command>/)
    for (const command of ['up', 'status', 'down']) expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
  }
  // Help wins over a command: `up --help` explains, it does not start a cluster.
  expect(run('up', '--help')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage:/) })
})

it('no command, an unknown command or an unknown option exits 2 with the usage', () => {
  expect(run()).toMatchObject({ code: 2, stdout: expect.stringMatching(/^Usage:/) })
  const command = run('upp')
  expect(command.code).toBe(2)
  expect(command.stderr).toContain("Unknown command 'upp'")
  const option = run('up', '--replica', '2')
  expect(option.code).toBe(2)
  expect(option.stderr).toContain("Unknown option '--replica'")
  expect(option.stderr).toContain('Usage:')
})
