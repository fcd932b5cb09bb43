import fs from 'node:fs/promises'
import path from 'node:path'
import type { NodeConnectionConfig } from './node-connection-config.js'
import type { ServerUser } from './server-user.js'
import { withClient } from './sql-client.js'
import { copyTree } from './tree-copy.js'

/** What {@link copyRunningDataDir} copies from and to. */
export interface OnlineBackupInput {
  /** Connection to the running source server (it runs `pg_backup_start()` / `pg_backup_stop()`). */
  readonly source: NodeConnectionConfig
  /** The source server's data directory. */
  readonly sourceDir: string
  /** Where the copy goes; must not exist. */
  readonly targetDir: string
  /** Owner of the copy (the server user when running as root). */
  readonly owner: ServerUser | undefined
  /** Label of the backup, shown in the source's `pg_stat_activity` while it runs. */
  readonly label: string
}

// What pg_basebackup leaves out (PostgreSQL docs, "Making a Base Backup Using the Low Level API"): the server's
// runtime state, and WAL, which the copy streams from the source's replication slot instead.
const emptyDirs = [
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]
const skip = [
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'tablespace_map',
  'standby.signal',
  'recovery.signal',
]

/**
 * A base backup of a running server without `pg_basebackup` (which the npm binaries lack): the low-level API
 * (`pg_backup_start` on one connection, a file copy, `pg_backup_stop` on the same connection) and the returned
 * `backup_label` written into the copy. Started as a standby, the copy replays from the backup's checkpoint; the
 * WAL it needs must be kept by the source (a replication slot created before this call).
 */
export async function copyRunningDataDir(input: OnlineBackupInput): Promise<void> {
  const { owner, targetDir } = input
  await withClient(input.source, async (client) => {
    await client.query('SELECT pg_backup_start($1, true)', [input.label])
    try {
      await copyTree(input.sourceDir, targetDir, {
        emptyDirs,
        skip,
        live: true,
        ...(owner ? { owner } : {}),
      })
    } catch (error) {
      await client.query('SELECT pg_backup_stop(false)').catch(() => {})
      throw error
    }
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>(
      'SELECT labelfile, spcmapfile FROM pg_backup_stop(false)',
    )
    await writeOwned(path.join(targetDir, 'backup_label'), rows[0]!.labelfile, owner)
    if (rows[0]!.spcmapfile) {
      await writeOwned(path.join(targetDir, 'tablespace_map'), rows[0]!.spcmapfile, owner)
    }
  })
  for (const dir of ['archive_status', 'summaries']) {
    await fs.mkdir(path.join(targetDir, 'pg_wal', dir), { recursive: true, mode: 0o700 })
    if (owner) await fs.chown(path.join(targetDir, 'pg_wal', dir), owner.uid, owner.gid)
  }
}

/** Writes a file readable only by `owner` (the server user), as PostgreSQL requires of its data directory. */
export async function writeOwned(file: string, text: string, owner: ServerUser | undefined): Promise<void> {
  await fs.writeFile(file, text, { mode: 0o600 })
  if (owner) await fs.chown(file, owner.uid, owner.gid)
}
