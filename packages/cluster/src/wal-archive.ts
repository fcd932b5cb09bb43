import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ClusterError, invalidOption } from './cluster-error.js'
import type { ClusterLogEntry } from './cluster-options.js'
import { writeOwned } from './online-backup.js'
import type { ArchiveTool } from './replication-options.js'
import { assertSafePath, type ResolvedArchive } from './resolve-replication.js'
import type { Settings } from './server-config.js'
import { assertReachable, type ServerUser } from './server-user.js'
import { runTool } from './tool-runner.js'

/** What {@link WalArchive.prepare} needs. */
export interface WalArchiveInput {
  readonly archive: ResolvedArchive
  /** The cluster's directory (holds the default archive directory and pgBackRest's configuration). */
  readonly root: string
  readonly user: ServerUser | undefined
  /** Data directory of the primary, whose `pg_control` pgBackRest's stanza is created from. */
  readonly primaryDataDir: string
  readonly timeoutMs: number
  readonly redact: (text: string) => string
  readonly log: (entry: ClusterLogEntry) => void
}

/** pgBackRest's stanza (its name for one cluster in a repository). */
const stanza = 'pgroute'

/**
 * The cluster's WAL archive: a directory the primary archives every finished WAL segment into, and where
 * archive-fed replicas restore from. It writes each node's `archive_command` (and `restore_command`), with the node's
 * own data directory where pgBackRest needs it.
 */
export class WalArchive {
  /** Directory holding the archive (for pgBackRest: its repository). */
  readonly dir: string
  readonly tool: ArchiveTool
  readonly #timeoutSeconds: number
  /** pgBackRest: the program and its configuration file. */
  readonly #pgbackrest: { readonly program: string; readonly config: string } | undefined

  private constructor(
    archive: ResolvedArchive,
    dir: string,
    pgbackrest: { program: string; config: string } | undefined,
  ) {
    this.dir = dir
    this.tool = archive.tool
    this.#timeoutSeconds = archive.timeoutSeconds
    this.#pgbackrest = pgbackrest
  }

  /**
   * Creates the archive directory (it must be empty or absent) and, for pgBackRest, its configuration and the
   * stanza (offline, from the primary's `pg_control`: the primary must not run yet).
   */
  static async prepare(input: WalArchiveInput): Promise<WalArchive> {
    const { archive, root, user } = input
    const dir = archive.dir ?? path.join(root, 'wal-archive')
    assertSafePath(dir, archive.dir ? 'archive.dir' : 'baseDir')
    assertSafePath(root, 'baseDir')
    if (existsSync(dir) && (await fs.readdir(dir)).length > 0) {
      throw invalidOption('archive.dir', `${dir} is not empty; give each cluster an empty archive directory`)
    }
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    if (user) await fs.chown(dir, user.uid, user.gid)
    assertReachable(dir, user, 'archive.dir')
    if (archive.tool === 'copy') return new WalArchive(archive, dir, undefined)

    const program = findProgram('pgbackrest')
    if (!program) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
        "archive.tool 'pgbackrest' needs the pgbackrest program on PATH (Debian: apt-get install pgbackrest)",
        { option: 'archive.tool' },
      )
    }
    const config = path.join(root, 'pgbackrest.conf')
    const lines = [
      '[global]',
      `repo1-path=${dir}`,
      `lock-path=${path.join(root, 'pgbackrest-lock')}`,
      'log-level-file=off',
      'log-level-console=warn',
      'log-level-stderr=warn',
      '',
      `[${stanza}]`,
      `pg1-path=${input.primaryDataDir}`,
      '',
    ]
    await writeOwned(config, lines.join('\n'), user)
    const output = await runTool(
      path.basename(program),
      [`--config=${config}`, `--stanza=${stanza}`, '--no-online', 'stanza-create'],
      {
        binDir: path.dirname(program),
        user,
        cwd: root,
        timeoutMs: input.timeoutMs,
        description: 'pgBackRest stanza-create',
        redact: input.redact,
      },
    ).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error)
      const hint = /control version|unexpected.*version|PostgreSQL version/i.test(message)
        ? ' (this pgBackRest release may not support the server version; point `binDir` at a supported PostgreSQL)'
        : ''
      throw new ClusterError('PGROUTE_CLUSTER_START_FAILED', `${message}${hint}`, { cause: error })
    })
    input.log({
      source: 'cluster',
      message: `pgBackRest stanza '${stanza}' created in ${dir}: ${output.trim()}`,
    })
    return new WalArchive(archive, dir, { program, config })
  }

  /** Settings of every node: archiving on (it only runs on the primary), with the node's own data directory. */
  settings(dataDir: string): Settings {
    return {
      archive_mode: 'on',
      archive_timeout: this.#timeoutSeconds,
      archive_command: this.#archiveCommand(dataDir),
    }
  }

  /** `restore_command` of an archive-fed replica. */
  restoreCommand(dataDir: string): string {
    const pgbackrest = this.#pgbackrest
    if (pgbackrest) return `${this.#pgbackrestCommand(pgbackrest, dataDir)} archive-get %f '%p'`
    // Quiet when the segment is not archived yet: the replica asks again and again until it is.
    return `[ -f '${this.dir}/%f' ] && cp '${this.dir}/%f' '%p'`
  }

  #archiveCommand(dataDir: string): string {
    const pgbackrest = this.#pgbackrest
    if (pgbackrest) return `${this.#pgbackrestCommand(pgbackrest, dataDir)} archive-push '%p'`
    // Never overwrites: a segment archived before (the archiver retries after a crash) succeeds only if it is the
    // same file. The copy is renamed into place once complete, so a reader never sees half a segment.
    const target = `'${this.dir}/%f'`
    const partial = `'${this.dir}/.%f.partial'`
    return `if [ -f ${target} ]; then cmp -s '%p' ${target}; else cp '%p' ${partial} && mv ${partial} ${target}; fi`
  }

  #pgbackrestCommand(pgbackrest: { program: string; config: string }, dataDir: string): string {
    assertSafePath(dataDir, 'baseDir')
    return `'${pgbackrest.program}' '--config=${pgbackrest.config}' --stanza=${stanza} '--pg1-path=${dataDir}'`
  }
}

/** Absolute path of `name` on `PATH`, or `undefined`. */
function findProgram(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue
    const candidate = path.join(dir, name)
    if (existsSync(candidate)) return candidate
  }
  return undefined
}
