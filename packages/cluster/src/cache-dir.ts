import { mkdirSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * `os.tmpdir()/pgroute-cluster`: holds the readable copy of the binaries, initdb templates and the CLI's state
 * file. Returns `undefined` when the directory is not owned by the current user or is writable by others, so a
 * directory planted by someone else is never trusted.
 */
export function cacheDir(): string | undefined {
  const dir = path.join(os.tmpdir(), 'pgroute-cluster')
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 })
    const stat = statSync(dir)
    const uid = process.getuid?.()
    if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0)
      return undefined
    return dir
  } catch {
    return undefined
  }
}
