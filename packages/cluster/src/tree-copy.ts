import fs from 'node:fs/promises'
import path from 'node:path'
import type { ServerUser } from './server-user.js'

/** How {@link copyTree} sets ownership and permissions of the copy. */
export interface CopyTreeOptions {
  /** Owner of every copied entry; default: the current user. */
  readonly owner?: ServerUser
  /** Maps a source entry's permission bits to the copy's; default: unchanged. */
  readonly mode?: (mode: number, isDirectory: boolean) => number
  /** Entries (relative paths) whose contents are not copied; directories are created empty. */
  readonly emptyDirs?: readonly string[]
  /** Entries (relative paths) not copied at all. */
  readonly skip?: readonly string[]
  /**
   * Entries that disappear while the tree is copied are left out instead of failing the copy: the source is a
   * running server's data directory, whose temporary files come and go.
   */
  readonly live?: boolean
}

/**
 * Copies a directory tree, keeping symbolic links as links. Faster than `fs.cp` for PostgreSQL data directories
 * (~1000 small files) because every file is copied concurrently.
 */
export async function copyTree(source: string, target: string, options: CopyTreeOptions = {}): Promise<void> {
  await copyEntry(source, target, '', options)
}

async function copyEntry(source: string, target: string, relative: string, options: CopyTreeOptions) {
  if (options.skip?.includes(relative)) return
  try {
    await copyExisting(source, target, relative, options)
  } catch (error) {
    if (!(options.live && (error as NodeJS.ErrnoException).code === 'ENOENT')) throw error
  }
}

async function copyExisting(source: string, target: string, relative: string, options: CopyTreeOptions) {
  const stat = await fs.lstat(source)
  const mode = (options.mode ?? ((bits) => bits))(stat.mode & 0o7777, stat.isDirectory())
  if (stat.isDirectory()) {
    await fs.mkdir(target, { mode })
    await fs.chmod(target, mode)
    if (!options.emptyDirs?.includes(relative)) {
      const entries = await fs.readdir(source)
      await Promise.all(
        entries.map((entry) =>
          copyEntry(
            path.join(source, entry),
            path.join(target, entry),
            path.posix.join(relative, entry),
            options,
          ),
        ),
      )
    }
  } else if (stat.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(source), target)
  } else if (stat.isFile()) {
    await fs.copyFile(source, target)
    await fs.chmod(target, mode)
  } else {
    return // Sockets and other special files are never part of a data directory worth copying.
  }
  if (options.owner) await fs.lchown(target, options.owner.uid, options.owner.gid)
}
