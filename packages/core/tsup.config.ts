import { rmSync } from 'node:fs'
import { defineConfig, type Options } from 'tsup'

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
    { ...shared, format: ['cjs'] },
  ]
})
