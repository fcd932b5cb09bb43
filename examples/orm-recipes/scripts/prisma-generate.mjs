/**
 * `prisma generate` for the Prisma recipe, offline. Prisma 7 writes the client with the WebAssembly build its CLI
 * ships on npm and runs no engine binary for it; its CLI still makes sure the schema engine binary is on disk
 * before `generate`, and downloads it from Prisma's own server (not npm) when it is not, which fails where only
 * npm can be reached. Any path it finds (`PRISMA_SCHEMA_ENGINE_BINARY`) skips that download: this file, which
 * cannot run as a program, so that a command that did need the engine would fail loudly. A variable you set
 * yourself (a real engine) wins.
 */
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const cli = join(dirname(require.resolve('prisma/package.json')), 'build', 'index.js')
const standIn = fileURLToPath(import.meta.url)
const { status, error } = spawnSync(process.execPath, [cli, 'generate'], {
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  stdio: 'inherit',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? standIn },
})
if (error) throw error
process.exit(status ?? 1)
