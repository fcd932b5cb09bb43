import { defineProject } from 'vitest/config'

/** Resolve workspace packages to their TypeScript sources so tests never need a build first. */
const conditions = ['pgroute-source', 'import', 'module', 'node', 'default']

/**
 * Settings every vitest project of the workspace shares. Unit tests are `*.unit.test.ts`;
 * integration tests (`*.int.test.ts`) start real PostgreSQL servers and get generous timeouts.
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
    },
  })
}
