import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterNode, startCluster } from '../src/index.js'

/** `pgbackrest` on PATH, or undefined. */
function pgbackrest(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'pgbackrest'))) return path.join(dir, 'pgbackrest')
  }
  return undefined
}

/**
 * Debian's PostgreSQL (newest installed major): pgBackRest 2.45, Debian 12's, knows PostgreSQL up to 15, not the
 * npm package's 18. `PGROUTE_PGBACKREST_PG_BIN` points elsewhere.
 */
function debianBinDir(): string | undefined {
  const given = process.env.PGROUTE_PGBACKREST_PG_BIN
  if (given) return given
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(path.join(root, name, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))
  return majors[0] ? path.join(root, majors[0], 'bin') : undefined
}

const program = pgbackrest()
const binDir = debianBinDir()
const missing = !program
  ? 'needs pgBackRest (Debian: apt-get install pgbackrest; .ci/run installs it)'
  : !binDir
    ? "needs Debian's PostgreSQL (apt-get install postgresql), a version pgBackRest supports"
    : undefined

let cluster: Cluster
let streaming: ClusterNode
let shipped: ClusterNode

interface ArchiveInfo {
  archive: Array<{ id: string; min: string | null; max: string | null }>
}

/** `pgbackrest info` of the cluster's stanza, read as this process (root can read the server user's files). */
function info(): ArchiveInfo {
  const config = path.join(cluster.dataDir!, 'pgbackrest.conf')
  const output = execFileSync(program!, [`--config=${config}`, '--stanza=pgroute', '--output=json', 'info'], {
    encoding: 'utf8',
  })
  return (JSON.parse(output) as ArchiveInfo[])[0]!
}

async function has(node: ClusterNode, id: number): Promise<boolean> {
  return (await node.query('SELECT 1 FROM items WHERE id = $1', [id])).rowCount === 1
}

describe('WAL archiving by pgBackRest', () => {
  beforeAll(async () => {
    if (missing) return
    cluster = await startCluster({
      binDir: binDir!,
      replicaOptions: [{}, { source: 'archive' }],
      archive: { tool: 'pgbackrest' },
    })
    ;[streaming, shipped] = cluster.replicas as [ClusterNode, ClusterNode]
    await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY)')
  })

  afterAll(async () => {
    await cluster?.stop()
  })

  it('archive-push fills the repository and the archive-fed replica restores with archive-get', async (context) => {
    if (missing) context.skip(missing)
    const commands = await cluster.primary.query<{ archive: string; restore: string }>(
      `SELECT current_setting('archive_command') AS archive, current_setting('restore_command') AS restore`,
    )
    expect(commands.rows[0]!.archive).toMatch(/pgbackrest' .*--stanza=pgroute .* archive-push '%p'$/)
    expect((await shipped.query('SHOW restore_command')).rows[0]!.restore_command).toMatch(
      /archive-get %f '%p'$/,
    )
    await cluster.primary.query('INSERT INTO items SELECT generate_series(1, 1000)')
    const { rows } = await cluster.primary.query<{ segment: string }>(
      'SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment',
    )
    await cluster.waitForReplication({ replicas: [streaming, shipped], timeoutMs: 30_000 })
    expect(await has(shipped, 1000)).toBe(true)
    expect((await shipped.query('SELECT 1 FROM pg_stat_wal_receiver')).rowCount).toBe(0)
    const archived = info().archive[0]!
    expect(archived.max! >= rows[0]!.segment).toBe(true)
  })

  it('carries a promotion: the new primary pushes its timeline history, the archive-fed replica follows it', async (context) => {
    if (missing) context.skip(missing)
    await cluster.promote(streaming)
    await cluster.primary.query('INSERT INTO items VALUES (1001)')
    await cluster.waitForReplication({ replicas: [shipped], timeoutMs: 30_000 })
    expect(await has(shipped, 1001)).toBe(true)
    expect(info().archive[0]!.max!.startsWith('00000002')).toBe(true)
  })
})
