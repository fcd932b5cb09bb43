import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Loaded on first use when the application has it installed (an optional peer), never bundled.
  external: ['pg-cursor'],
})
