import { defineProject } from 'vitest/config'
import { project } from '../../vitest.shared.js'

const shared = project('drizzle')

// Vitest hands the SSR conditions to Node as `--conditions` flags, which also apply to `require()`. With `import`
// among them, pg's `require('pg-pool')` loads pg-pool's ESM build and `class extends Pool` fails at import time.
const conditions = (shared.ssr?.resolve?.conditions ?? []).filter((c) => c !== 'import' && c !== 'module')

export default defineProject({
  ...shared,
  ssr: { ...shared.ssr, resolve: { ...shared.ssr?.resolve, conditions } },
})
