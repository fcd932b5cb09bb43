import { readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { defineConfig, type Options } from 'tsup'

/**
 * Dependencies published as ES modules only. `require()` of an ES module fails on Node 20 before 20.19 and on
 * Node 22 before 22.12 (ERR_REQUIRE_ESM), and `engines` admits those versions, so the CommonJS build carries
 * its own copy of them (and of what they import: is-network-error). The ES module build keeps them external, so
 * applications share one copy. `.ci/consumer-smoke` checks both builds on those Node versions.
 */
const esmOnlyDependencies = ['p-retry']

/** The licence notices of the bundled code (MIT asks for them to travel with copies), as one comment. */
function bundledLicences(): string {
  const fromCore = createRequire(import.meta.url)
  const pRetry = dirname(fromCore.resolve('p-retry'))
  const isNetworkError = dirname(createRequire(join(pRetry, 'index.js')).resolve('is-network-error'))
  const notices = [
    `p-retry:\n${readFileSync(join(pRetry, 'license'), 'utf8')}`,
    `is-network-error:\n${readFileSync(join(isNetworkError, 'license'), 'utf8')}`,
  ]
  return `/*!\nThis file includes code from:\n\n${notices.join('\n').replaceAll('*/', '* /')}*/`
}

const shared: Options = {
  entry: ['src/index.ts', 'src/internal.ts'],
  // Constructors marked @internal (RoutedClient, RoutedPool) take the router's machinery: keep it out of the
  // published types.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  target: 'node20',
}

export default defineConfig(() => {
  // Both builds run at once and write to one folder: clean it here, once, rather than in each build.
  rmSync('dist', { recursive: true, force: true })
  return [
    { ...shared, format: ['esm'] },
    { ...shared, format: ['cjs'], noExternal: esmOnlyDependencies, banner: { js: bundledLicences() } },
  ]
})
