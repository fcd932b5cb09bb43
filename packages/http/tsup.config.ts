import { defineConfig } from 'tsup'

export default defineConfig({
  entry: [
    'src/index.ts',
    'src/express.ts',
    'src/fastify.ts',
    'src/hono.ts',
    'src/next.ts',
    'src/opentelemetry.ts',
  ],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Frameworks are optional peers, loaded only by their own entry point; never bundled.
  external: ['@pgroute/core', 'fastify', 'fastify-plugin', 'hono', 'next', '@opentelemetry/api'],
})
