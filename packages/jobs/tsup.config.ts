import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/pg-boss.ts', 'src/graphile-worker.ts', 'src/bullmq.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['@pgroute/core'],
})
