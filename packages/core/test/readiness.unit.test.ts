import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

describe('router.ready() in a process with nothing else to do', () => {
  it('keeps the process alive while it waits for the re-probe, and rejects', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/ready-unreachable.ts', import.meta.url))
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--conditions=pgroute-source', fixture],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 20_000 },
    )
    expect(stdout.trim()).toBe('PGROUTE_PRIMARY_UNAVAILABLE')
  }, 30_000)
})
