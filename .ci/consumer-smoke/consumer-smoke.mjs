// Consumer smoke test: packs every package as npm would publish it, installs the tarballs into a fresh project
// outside the repository, and runs an ES module and a CommonJS consumer against a real 1 + 1 cluster on each
// Node version `engines` admits at its edges: first without any web framework installed (@pgroute/http's root
// and its framework entries must load without them), then with Express, Fastify, Hono and @opentelemetry/api
// installed (each integration on its framework). Node binaries come from the npm registry (`node-<os>-<arch>`),
// cached under node_modules/.cache so reruns download nothing.
//
//   node .ci/consumer-smoke/consumer-smoke.mjs            (after `pnpm build`)
//   SMOKE_NODE_VERSIONS=20.0.0,24.22.3 node .ci/consumer-smoke/consumer-smoke.mjs
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const packages = ['core', 'kysely-adapter', 'drizzle-adapter', 'cluster', 'http', 'jobs']

/**
 * Oldest and newest Node 20 and 22, and the newest Node 24. 20.0.0 and 22.0.0 cannot require() an ES module;
 * the newest releases can, so both sides of that line are covered.
 */
const defaultVersions = ['20.0.0', '20.20.2', '22.0.0', '22.23.5', '24.22.3']
const versions = (process.env.SMOKE_NODE_VERSIONS ?? defaultVersions.join(',')).split(',').filter(Boolean)
const cacheDir = join(root, 'node_modules', '.cache', 'pgroute-consumer-smoke')

const help = `Usage: node .ci/consumer-smoke/consumer-smoke.mjs

Packs every package (run pnpm build first), installs the tarballs into a new project in the OS temp directory,
starts a 1 + 1 cluster, and runs an ES module and a CommonJS consumer on each Node version; then installs the
web frameworks @pgroute/http integrates with and runs the framework consumers on each version. Exits 1 when any
run fails.

Environment:
  SMOKE_NODE_VERSIONS  comma-separated Node versions (default ${defaultVersions.join(',')})

Node binaries come from the npm packages node-<os>-<arch>@<version>, cached in
node_modules/.cache/pgroute-consumer-smoke.
`
const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help)
  process.exit(0)
}
if (args.length > 0) {
  process.stderr.write(`Unknown argument ${args.join(' ')}\n\n${help}`)
  process.exit(2)
}
const started = Date.now()

function log(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`)
}

/** Path of a Node binary of `version`, from the cache or the npm registry. */
async function nodeBinary(version) {
  const dir = join(cacheDir, `node-${version}`)
  const binary = join(dir, 'package', 'bin', 'node')
  if (existsSync(binary)) return binary
  await mkdir(dir, { recursive: true })
  const name = `node-${process.platform}-${process.arch}@${version}`
  const { stdout } = await run('npm', ['pack', name, '--silent', '--pack-destination', dir], {
    timeout: 300_000,
  })
  const tarball = join(dir, stdout.trim().split('\n').pop())
  await run('tar', ['xzf', tarball, '-C', dir, 'package/bin/node'], { timeout: 120_000 })
  await rm(tarball)
  return binary
}

/** Packs each package with pnpm (which rewrites `workspace:` ranges as publishing does) into `dir`. */
async function packAll(dir) {
  const tarballs = {}
  for (const name of packages) {
    const packageDir = join(root, 'packages', name)
    if (!existsSync(join(packageDir, 'dist')))
      throw new Error(`packages/${name}/dist is missing: run pnpm build`)
    const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8'))
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', dir], {
      cwd: packageDir,
      timeout: 120_000,
    })
    const file = stdout.trim().split('\n').pop()
    tarballs[manifest.name] = `file:${file.startsWith('/') ? file : join(dir, file)}`
  }
  return tarballs
}

/** Version the repository tests against, so the consumer gets the same peers. */
async function devVersion(packageName, dependency) {
  const manifest = JSON.parse(await readFile(join(root, 'packages', packageName, 'package.json'), 'utf8'))
  return manifest.devDependencies[dependency]
}

async function createConsumer(dir) {
  const tarballs = await packAll(dir)
  const manifest = {
    name: 'pgroute-consumer-smoke',
    private: true,
    dependencies: {
      ...tarballs,
      pg: await devVersion('core', 'pg'),
      kysely: await devVersion('kysely-adapter', 'kysely'),
      'drizzle-orm': await devVersion('drizzle-adapter', 'drizzle-orm'),
    },
    // The adapters depend on @pgroute/core ^0.1.0: the packed one, never the registry's.
    overrides: { '@pgroute/core': '$@pgroute/core' },
  }
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  // PostgreSQL binaries (the cluster package's optional dependencies) are not needed: the repository starts the
  // cluster. Install scripts are not needed either.
  await run('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', '--ignore-scripts'], {
    cwd: dir,
    timeout: 300_000,
  })
  for (const file of await readdir(here)) {
    if (file.startsWith('probe-')) await copyFile(join(here, file), join(dir, file))
  }
}

/** Installs the web frameworks (and @opentelemetry/api) @pgroute/http is tested with into the consumer. */
async function installFrameworks(dir) {
  const frameworks = ['express', 'fastify', 'hono', '@hono/node-server', '@opentelemetry/api']
  const specs = await Promise.all(frameworks.map(async (name) => `${name}@${await devVersion('http', name)}`))
  await run('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', '--ignore-scripts', ...specs], {
    cwd: dir,
    timeout: 300_000,
  })
}

/** Runs one entry file on one Node binary; resolves to its outcome, never rejects. */
async function probe(binary, entry, env, cwd) {
  const begin = Date.now()
  try {
    await run(binary, [entry], { cwd, env: { ...process.env, ...env }, timeout: 60_000 })
    return { ok: true, ms: Date.now() - begin }
  } catch (error) {
    const output = `${error.stderr ?? ''}${error.stdout ?? ''}`.trim() || String(error)
    return { ok: false, ms: Date.now() - begin, output }
  }
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'pgroute-consumer-'))
  let cluster
  const results = []
  try {
    log(`Node binaries: ${versions.join(', ')}`)
    const binaries = await Promise.all(versions.map(nodeBinary))
    log('packing the packages and installing them into a new project outside the repository')
    await createConsumer(dir)
    log('starting a 1 + 1 cluster')
    const { startCluster } = await import(
      pathToFileURL(join(root, 'packages', 'cluster', 'dist', 'index.js')).href
    )
    cluster = await startCluster({ replicas: 1 })
    const env = { SMOKE_PRIMARY_URL: cluster.primary.url, SMOKE_REPLICA_URL: cluster.replicas[0].url }
    const runAll = async (phase, entries) => {
      for (const [index, version] of versions.entries()) {
        for (const [format, entry] of entries) {
          const result = await probe(binaries[index], entry, env, dir)
          results.push({ version, format: `${phase} ${format}`, ...result })
          log(`Node ${version} ${phase}, ${format}: ${result.ok ? 'ok' : 'FAILED'} (${result.ms} ms)`)
          if (!result.ok) console.log(result.output.replace(/^/gm, '    '))
        }
      }
    }
    await runAll('no framework installed', [
      ['import', 'probe-entry.mjs'],
      ['require', 'probe-entry.cjs'],
    ])
    log('installing Express, Fastify, Hono and @opentelemetry/api into the consumer')
    await installFrameworks(dir)
    await runAll('frameworks installed', [
      ['import', 'probe-frameworks.mjs'],
      ['require', 'probe-frameworks.cjs'],
    ])
  } finally {
    await cluster?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const failed = results.filter((result) => !result.ok)
  log(`${results.length - failed.length} of ${results.length} consumer runs passed`)
  if (failed.length > 0) process.exitCode = 1
}

await main()
