/**
 * Every skipped test says why: conditional skips go through `context.skip(reason)` (or `requireControl`), whose
 * reason the skip report at the end of `pnpm test` prints. Static skips (`it.skip`, `describe.skipIf`, `runIf`,
 * `todo`) show no reason and are refused here, in every test file of the repository.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const testDirs = ['packages', 'examples', 'bench', 'infra']

/** Test files and test-support files (suites shared by several apps live in `src`). */
function testFiles(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) found.push(...testFiles(full))
    else if (/\.test(-d)?\.ts$|-suite\.ts$/.test(entry.name)) found.push(full)
  }
  return found
}

/** Skips without a reason the report could show: `it.skip(`, `describe.skipIf(`, `test.runIf(`, `it.todo(`, `.skip()`. */
const reasonless = [/\b(?:it|test|describe|suite)\.(?:skip|skipIf|runIf|todo)\b/, /\.skip\(\s*\)/]

describe('skip reasons', () => {
  const files = testDirs.flatMap((dir) => testFiles(path.join(root, dir)))

  it('finds the test files of every package', () => {
    expect(files.length).toBeGreaterThan(50)
  })

  it('no test file skips without a reason (use context.skip(reason))', () => {
    const offenders: string[] = []
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n')
      lines.forEach((line, index) => {
        const code = line.trim()
        if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return
        if (reasonless.some((pattern) => pattern.test(code)))
          offenders.push(`${path.relative(root, file)}:${index + 1}: ${line.trim()}`)
      })
    }
    expect(offenders).toEqual([])
  })
})
