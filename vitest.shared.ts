import { defineProject } from 'vitest/config'

/**
 * Resolve workspace packages to their TypeScript sources so tests never need a build first. Vitest hands the SSR
 * conditions to Node as `--conditions` flags, which apply to `require()` too: with `import` among them, pg's
 * `require('pg-pool')` would load pg-pool's ES module and fail. Vite adds `import`/`require` by itself.
 */
const conditions = ['pgroute-source', 'node']

/**
 * Settings every vitest project of the workspace shares. Unit tests are `*.unit.test.ts`;
 * integration tests (`*.int.test.ts`) start real PostgreSQL servers and get generous timeouts; type tests
 * (`*.test-d.ts`, `expectTypeOf`) are checked by the TypeScript compiler in the same run (vitest `typecheck`),
 * against the project's own `tsconfig.json`.
 */
export function project(name: string) {
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['pgroute-source'] } },
    test: {
      name,
      include: ['test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    },
  })
}
