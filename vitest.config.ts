import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'infra/vitest.config.ts',
      'examples/*/vitest.config.ts',
      'bench/vitest.config.ts',
    ],
    // Integration files each start a PostgreSQL cluster; two at a time fits a 2-core machine.
    maxWorkers: 2,
    globalSetup: ['./vitest.external-check.ts'],
    // The default report, then every skipped test with the reason it gave (vitest.skip-report.ts).
    reporters: ['default', './vitest.skip-report.ts'],
  },
})
