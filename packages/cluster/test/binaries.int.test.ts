import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { platformPackage, prepareBinaries, resolveBinaries } from '../src/binaries-resolver.js'
import { cacheDir } from '../src/cache-dir.js'
import { isClusterError, startCluster } from '../src/index.js'
import { serverUser } from '../src/server-user.js'
import { templatePath } from '../src/template-cache.js'

const user = serverUser()
const hidden = mkdtempSync(path.join(os.tmpdir(), 'pgroute-hidden-')) // mode 0700, owned by this user
const cleanup: string[] = [hidden]

afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true })
})

describe('binaries', () => {
  it(`resolves ${platformPackage()} and runs it as the server user`, async () => {
    const binaries = await resolveBinaries(undefined, user)
    expect(binaries.version).toMatch(/^postgres \(PostgreSQL\) \d+/)
    const run = spawnSync(path.join(binaries.binDir, 'postgres'), ['--version'], {
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    })
    expect(run.status).toBe(0)
  })

  it('copies package binaries the server user cannot reach into a readable cache, restoring their symlinks', async (context) => {
    if (user === undefined) {
      context.skip(
        'needs root: only then do servers run as another user (nobody), who may be denied the binaries',
      )
    }
    const packaged = path.dirname((await resolveBinaries(undefined, user)).binDir)
    const copy = path.join(hidden, 'native')
    cpSync(packaged, copy, { recursive: true, verbatimSymlinks: true })
    // The package lists the symlinks its install script restores (pnpm may or may not have run it here):
    // remove every one of them, as if the script never ran.
    const listed = JSON.parse(readFileSync(path.join(copy, 'pg-symlinks.json'), 'utf8')) as Array<{
      target: string
    }>
    const links = listed.map(({ target }) => path.basename(target))
    expect(links.length).toBeGreaterThan(0)
    for (const name of links) rmSync(path.join(copy, 'lib', name), { force: true })
    expect(readdirSync(path.join(copy, 'lib')).filter((name) => links.includes(name))).toEqual([])
    // Named by an option, unreachable binaries are an error naming the option.
    const error = await prepareBinaries(path.join(copy, 'bin'), user, 'binDir').catch((e: unknown) => e)
    expect(isClusterError(error) && [error.code, error.option]).toEqual([
      'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
      'binDir',
    ])
    // From the package, they are copied.
    const binaries = await prepareBinaries(path.join(copy, 'bin'), user, undefined)
    cleanup.push(path.dirname(binaries.binDir), templatePath(cacheDir()!, binaries, 'postgres'))
    expect(binaries.binDir.startsWith(os.tmpdir())).toBe(true)
    expect(statSync(path.dirname(binaries.binDir)).mode & 0o555).toBe(0o555)
    for (const name of links) expect(existsSync(path.join(binaries.binDir, '..', 'lib', name))).toBe(true)
    const cluster = await startCluster({ replicas: 1, binDir: binaries.binDir })
    try {
      expect((await cluster.replicas[0]!.query('SELECT pg_is_in_recovery() AS r')).rows).toEqual([
        { r: true },
      ])
    } finally {
      await cluster.stop()
    }
  })
})
