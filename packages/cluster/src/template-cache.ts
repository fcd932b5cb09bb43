import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Binaries } from './binaries-resolver.js'
import { cacheDir } from './cache-dir.js'
import type { ServerUser } from './server-user.js'
import { runTool } from './tool-runner.js'
import { copyTree } from './tree-copy.js'

/** Bump when the template's content changes, so stale cached templates are not reused. */
const templateFormat = 2

/** Files included at the end of postgresql.conf: cluster-wide settings, then this node's own settings. */
export const clusterConfFile = 'pgroute.conf'
export const nodeConfFile = 'pgroute-node.conf'

/** Everything {@link createDataDir} needs. */
export interface DataDirOptions {
  readonly binaries: Binaries
  readonly user: ServerUser | undefined
  /** Superuser name given to initdb. */
  readonly superuser: string
  readonly timeoutMs: number
  readonly redact: (text: string) => string
}

/**
 * Creates a fresh data directory at `target` (which must not exist), owned by the server user with mode 0700.
 * initdb runs once per binaries/superuser combination; its result is cached under `os.tmpdir()` and copied, which
 * is several times faster than running initdb again. Without a safe cache directory initdb runs every time.
 */
export async function createDataDir(target: string, options: DataDirOptions): Promise<void> {
  const cache = cacheDir()
  if (!cache) {
    await initdb(target, options)
    return
  }
  const templates = path.join(cache, 'templates')
  const template = templatePath(cache, options.binaries, options.superuser)
  if (!existsSync(template)) {
    await fs.mkdir(templates, { recursive: true, mode: 0o755 })
    const staging = await fs.mkdtemp(path.join(templates, '.staging-'))
    await fs.chmod(staging, 0o711) // initdb runs as the server user and must reach staging/data.
    try {
      await initdb(path.join(staging, 'data'), options)
      await fs.rename(path.join(staging, 'data'), template).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error // Another process won the race.
      })
    } finally {
      await fs.rm(staging, { recursive: true, force: true })
    }
  }
  await copyTree(template, target, options.user ? { owner: options.user } : {})
}

/** Where the template for these binaries and superuser is cached. */
export function templatePath(cache: string, binaries: Binaries, superuser: string): string {
  const key = createHash('sha256')
    .update([templateFormat, binaries.binDir, binaries.version, superuser].join('\0'))
    .digest('hex')
    .slice(0, 16)
  return path.join(cache, 'templates', key)
}

async function initdb(target: string, options: DataDirOptions): Promise<void> {
  await fs.mkdir(target, { mode: 0o700 })
  if (options.user) await fs.chown(target, options.user.uid, options.user.gid)
  await runTool(
    'initdb',
    [
      '-D',
      target,
      '-U',
      options.superuser,
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '-N',
      '--no-instructions',
    ],
    { ...options, binDir: options.binaries.binDir, cwd: target, description: 'initdb' },
  )
  // Only TCP on loopback with SCRAM passwords; there are no Unix-domain sockets (unix_socket_directories = '').
  await fs.writeFile(
    path.join(target, 'pg_hba.conf'),
    '# Written by @pgroute/cluster\n' +
      'host all all 127.0.0.1/32 scram-sha-256\n' +
      'host replication all 127.0.0.1/32 scram-sha-256\n',
  )
  await fs.appendFile(
    path.join(target, 'postgresql.conf'),
    `\n# Added by @pgroute/cluster\ninclude_if_exists '${clusterConfFile}'\ninclude_if_exists '${nodeConfFile}'\n`,
  )
}
