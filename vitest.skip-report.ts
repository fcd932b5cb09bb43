/**
 * Reporter that ends a run with every skipped test and the reason it gave (`context.skip(note)`, e.g. through
 * `requireControl`), grouped by file and reason, so `pnpm test` and `pnpm test:external` show exactly what did not
 * run and why. Wired into the root `vitest.config.ts` beside the default reporter.
 */
import path from 'node:path'
import type { Reporter, TestModule } from 'vitest/node'

const listedPerGroup = 10

export default class SkipReport implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const groups = new Map<string, string[]>()
    for (const testModule of testModules) {
      const file = `${testModule.project.name} ${path.relative(process.cwd(), testModule.moduleId)}`
      for (const test of testModule.children.allTests('skipped')) {
        const result = test.result()
        const note = result.state === 'skipped' ? result.note : undefined
        const key = `${file} [${note ?? 'no reason given'}]`
        groups.set(key, [...(groups.get(key) ?? []), test.fullName])
      }
    }
    const total = [...groups.values()].reduce((sum, names) => sum + names.length, 0)
    if (total === 0) return
    const lines = [`\nSkipped tests (${total}):`]
    for (const [key, names] of groups) {
      lines.push(`  ${key}`)
      if (names.length > listedPerGroup) lines.push(`    ${names.length} tests`)
      else for (const name of names) lines.push(`    - ${name}`)
    }
    console.log(lines.join('\n'))
  }
}
