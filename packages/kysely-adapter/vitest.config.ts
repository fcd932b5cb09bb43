import { defineProject } from 'vitest/config'
import { project } from '../../vitest.shared.js'

/**
 * Vitest hands `ssr.resolve.conditions` to Node as `--conditions` flags, and Node applies them to `require()` too:
 * with `import` among them, pg's `require('pg-pool')` loads pg-pool's ES module and pg fails to load. Vite adds
 * `import`/`require` by itself, so only the custom condition is needed here.
 */
export default defineProject({
  ...project('kysely'),
  ssr: { resolve: { conditions: ['pgroute-source', 'node'], externalConditions: ['pgroute-source'] } },
})
