/**
 * Runs the generated user data (and so infra/scripts/primary.sh and replica.sh) against real PostgreSQL on
 * this machine: a primary and a streaming replica on loopback. Only what cannot exist off EC2 is faked
 * (test/fixtures/fake-bin: dnf, the AWS CLI, IMDS via curl, systemctl, postgresql-setup, mountpoint).
 * Needs root, a `postgres` OS user and PostgreSQL server binaries with pg_basebackup (Debian's postgresql
 * package); skipped otherwise.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type BootstrapHelper, bootstrapUserData } from '../lib/bootstrap-user-data.js'

const fakeBin = fileURLToPath(new URL('./fixtures/fake-bin', import.meta.url))
const region = 'us-east-1'
const arn = (name: string) => `arn:aws:secretsmanager:${region}:123456789012:secret:${name}`
const appPassword = 'AppPw0rdGeneratedBySecretsMgr42x'
const replicationPassword = 'ReplPw0rdGeneratedBySecretsMgr7y'

/** The newest Debian PostgreSQL `bin` directory with `pg_basebackup`, or what this machine lacks to run the scripts. */
function postgresBinDir(): { readonly bin: string } | { readonly missing: string } {
  if (process.getuid?.() !== 0)
    return { missing: 'needs root (the scripts run PostgreSQL as the postgres user)' }
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' })
  } catch {
    return { missing: 'needs a postgres OS user (apt-get install postgresql)' }
  }
  for (const tool of ['jq', 'openssl', 'runuser']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    } catch {
      return {
        missing: `needs ${tool} on PATH (apt-get install ${tool === 'runuser' ? 'util-linux' : tool})`,
      }
    }
  }
  const root = '/usr/lib/postgresql'
  const majors = existsSync(root)
    ? readdirSync(root).filter((major) => existsSync(join(root, major, 'bin/pg_basebackup')))
    : []
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0]
  return newest === undefined
    ? {
        missing: `needs Debian's PostgreSQL server with pg_basebackup under ${root} (apt-get install postgresql)`,
      }
    : { bin: join(root, newest, 'bin') }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

interface RunResult {
  readonly status: number | null
  readonly output: string
}

const found = postgresBinDir()
const pgBin = 'bin' in found ? found.bin : undefined

describe('bootstrap scripts on real PostgreSQL', () => {
  beforeEach((context) => {
    if ('missing' in found) context.skip(found.missing)
  })

  let base: string
  let awsDir: string
  let primaryPort: number
  let replicaPort: number
  const roots: string[] = []
  const children = new Set<ChildProcess>()
  const outputs: string[] = []

  /** Runs one node's user data, as cloud-init would, with everything under `base/<name>`. */
  async function runUserData(
    role: 'primary' | 'replica',
    name: string,
    env: Record<string, string>,
    helpers: readonly BootstrapHelper[] = [],
  ): Promise<RunResult> {
    const root = join(base, name)
    const optDir = join(base, `${name}-opt`)
    mkdirSync(root, { recursive: true })
    if (!roots.includes(root)) roots.push(root)
    const userData = bootstrapUserData(role, { ...env, PGROUTE_ROOT: root }, helpers).replaceAll(
      '/opt/pgroute',
      optDir,
    )
    const file = join(base, `${name}-user-data.sh`)
    writeFileSync(file, userData)
    const child = spawn('bash', [file], {
      env: {
        PATH: `${fakeBin}:${pgBin}:${process.env.PATH}`,
        HOME: '/root',
        FAKE_AWS_DIR: awsDir,
        LANG: 'C.UTF-8',
      },
    })
    children.add(child)
    // The scripts wait up to 15 minutes for a primary; a broken run must not outlive the test.
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000)
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
    clearTimeout(timer)
    children.delete(child)
    outputs.push(output)
    return { status, output }
  }

  function commonEnv(logicalId: string, port: number): Record<string, string> {
    return {
      AWS_REGION: region,
      PGROUTE_STACK_ID: `arn:aws:cloudformation:${region}:123456789012:stack/Test/1`,
      PGROUTE_LOGICAL_ID: logicalId,
      PGROUTE_PG_MAJOR: execFileSync(join(pgBin!, 'postgres'), ['--version'], { encoding: 'utf8' }).match(
        / (\d+)/,
      )![1]!,
      PGROUTE_DATA_DEVICE: '/dev/null',
      PGROUTE_VPC_CIDR: '127.0.0.0/8',
      PGROUTE_TEST_RUNNER_CIDR: '',
      PGROUTE_REPLICATION_USER: 'replicator',
      PGROUTE_REPLICATION_SECRET_ARN: arn('replication'),
      PGROUTE_MAX_WAL_SENDERS: '10',
      PGROUTE_MAX_REPLICATION_SLOTS: '10',
      PGROUTE_MAX_SLOT_WAL_KEEP_SIZE: '1GB',
      PGROUTE_PORT: String(port),
      PGROUTE_SYSTEMD_DIR: join(base, `${logicalId}-systemd`),
    }
  }

  function primaryEnv(logicalId: string, appSecret: string): Record<string, string> {
    return {
      ...commonEnv(logicalId, primaryPort),
      PGROUTE_APP_USER: 'pgroute_app',
      PGROUTE_APP_SECRET_ARN: arn(appSecret),
      PGROUTE_DATABASE: 'pgroute',
      PGROUTE_REPLICA_SLOTS: 'replica_1',
    }
  }

  /** psql over TCP as the application role, the way the integration suite connects. */
  function appQuery(
    port: number,
    sql: string,
    options: { sslmode?: string; password?: string } = {},
  ): string {
    const conninfo = `host=127.0.0.1 port=${port} dbname=pgroute user=pgroute_app sslmode=${options.sslmode ?? 'require'}`
    return execFileSync(join(pgBin!, 'psql'), ['-XAtq', conninfo, '-c', sql], {
      encoding: 'utf8',
      env: { PGPASSWORD: options.password ?? appPassword, PGCONNECT_TIMEOUT: '5' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim()
  }

  function superuserQuery(port: number, sql: string): string {
    return execFileSync(
      'runuser',
      [
        '-u',
        'postgres',
        '--',
        join(pgBin!, 'psql'),
        '-XAtq',
        '-p',
        String(port),
        '-d',
        'postgres',
        '-c',
        sql,
      ],
      {
        encoding: 'utf8',
      },
    ).trim()
  }

  const signals = () => readFileSync(join(awsDir, 'signals'), 'utf8').trim().split('\n')

  beforeAll(async () => {
    if (pgBin === undefined) return
    base = mkdtempSync(join(tmpdir(), 'pgroute-bootstrap-'))
    chmodSync(base, 0o755) // the postgres user must reach the data directories inside
    awsDir = join(base, 'aws')
    mkdirSync(join(awsDir, 'secrets'), { recursive: true })
    writeFileSync(join(awsDir, 'signals'), '')
    // The archive_command runs as the postgres user and writes the stand-in S3 objects.
    mkdirSync(join(awsDir, 's3'), { mode: 0o777 })
    chmodSync(join(awsDir, 's3'), 0o777)
    const secret = (username: string, password: string) => JSON.stringify({ username, password })
    writeFileSync(join(awsDir, 'secrets/app'), secret('pgroute_app', appPassword))
    writeFileSync(join(awsDir, 'secrets/replication'), secret('replicator', replicationPassword))
    writeFileSync(join(awsDir, 'secrets/bad'), secret('pgroute_app', 'Bad-Pw!'))
    primaryPort = await freePort()
    replicaPort = await freePort()
  })

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL')
    for (const root of roots) {
      if (existsSync(join(root, 'data/postmaster.pid'))) {
        execFileSync(
          'runuser',
          [
            '-u',
            'postgres',
            '--',
            join(pgBin!, 'pg_ctl'),
            '-D',
            join(root, 'data'),
            '-m',
            'immediate',
            '-w',
            'stop',
          ],
          {
            stdio: 'ignore',
          },
        )
      }
    }
    if (base) rmSync(base, { recursive: true, force: true })
  })

  it('primary.sh sets up PostgreSQL, roles, database and slots, then signals SUCCESS', async () => {
    const result = await runUserData('primary', 'primary', primaryEnv('PrimaryTEST', 'app'))
    expect(result.status, result.output).toBe(0)
    expect(signals()).toEqual(['PrimaryTEST SUCCESS'])
    // postgresql.service needs the data volume mounted: after a reboot without it, PostgreSQL stays down rather
    // than starting on the empty directory under the mount point.
    expect(
      readFileSync(join(base, 'PrimaryTEST-systemd/postgresql.service.d/pgroute-data-volume.conf'), 'utf8'),
    ).toBe(
      `# Managed by the pgroute bootstrap (common.sh).\n[Unit]\nRequiresMountsFor=${join(base, 'primary')}\n`,
    )
    expect(superuserQuery(primaryPort, 'SHOW wal_level')).toBe('replica')
    expect(superuserQuery(primaryPort, 'SHOW ssl')).toBe('on')
    expect(
      superuserQuery(primaryPort, "SELECT slot_name || ':' || slot_type FROM pg_replication_slots"),
    ).toBe('replica_1:physical')
    expect(
      superuserQuery(primaryPort, "SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'"),
    ).toBe('t')
    // The suites give each test file a database of its own (@pgroute/cluster/testing); nothing more.
    expect(
      superuserQuery(primaryPort, "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'pgroute_app'"),
    ).toBe('t|f')
    expect(
      superuserQuery(
        primaryPort,
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'pgroute'",
      ),
    ).toBe('pgroute_app')
  })

  it('lets the application role in over TLS with its password only', () => {
    expect(appQuery(primaryPort, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe('t')
    expect(() => appQuery(primaryPort, 'SELECT 1', { sslmode: 'disable' })).toThrow(/no pg_hba.conf entry/)
    expect(() => appQuery(primaryPort, 'SELECT 1', { password: 'wrong-password' })).toThrow(
      /password authentication failed/,
    )
    const hba = readFileSync(join(base, 'primary/data/pg_hba.conf'), 'utf8')
    expect(hba).toMatch(/^hostssl all +all +127\.0\.0\.0\/8 +scram-sha-256$/m)
    expect(hba).not.toMatch(/^host(nossl)? /m)
  })

  it('primary.sh can run again without changing the outcome', async () => {
    const result = await runUserData('primary', 'primary', primaryEnv('PrimaryTEST', 'app'))
    expect(result.status, result.output).toBe(0)
    expect(superuserQuery(primaryPort, 'SELECT count(*) FROM pg_replication_slots')).toBe('1')
    expect(appQuery(primaryPort, 'SELECT current_user')).toBe('pgroute_app')
  })

  it('replica.sh clones through its slot and signals SUCCESS only once it streams', async () => {
    const env = {
      ...commonEnv('Replica1TEST', replicaPort),
      PGROUTE_PRIMARY_HOST: '127.0.0.1',
      PGROUTE_PRIMARY_PORT: String(primaryPort),
      PGROUTE_SLOT: 'replica_1',
    }
    const result = await runUserData('replica', 'replica', env)
    expect(result.status, result.output).toBe(0)
    expect(signals().at(-1)).toBe('Replica1TEST SUCCESS')
    expect(superuserQuery(replicaPort, 'SELECT status FROM pg_stat_wal_receiver')).toBe('streaming')
    expect(superuserQuery(primaryPort, 'SELECT application_name, state FROM pg_stat_replication')).toBe(
      'replica_1|streaming',
    )
    expect(
      superuserQuery(primaryPort, "SELECT active FROM pg_replication_slots WHERE slot_name = 'replica_1'"),
    ).toBe('t')
    expect(readFileSync(join(base, 'replica/tls/server.crt'), 'utf8')).not.toBe(
      readFileSync(join(base, 'primary/tls/server.crt'), 'utf8'),
    )
  })

  it('replicates what the application writes on the primary to the hot standby', async () => {
    appQuery(primaryPort, 'CREATE TABLE IF NOT EXISTS probe (id int); INSERT INTO probe VALUES (42)')
    const deadline = Date.now() + 10_000
    let seen = ''
    while (Date.now() < deadline) {
      try {
        seen = appQuery(replicaPort, "SELECT coalesce(string_agg(id::text, ','), '') FROM probe")
      } catch (error) {
        // Until the standby has replayed the CREATE TABLE, the table does not exist there (resolved at parse time).
        if (!String(error).includes('relation "probe" does not exist')) throw error
      }
      if (seen === '42') break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(seen).toBe('42')
    expect(appQuery(replicaPort, 'SELECT pg_is_in_recovery()')).toBe('t')
    expect(() => appQuery(replicaPort, 'INSERT INTO probe VALUES (1)')).toThrow(/read-only transaction/)
  })

  it('signals FAILURE when bootstrap fails', async () => {
    const result = await runUserData('primary', 'broken', {
      ...primaryEnv('BrokenTEST', 'bad'),
      PGROUTE_PORT: String(await freePort()),
    })
    expect(result.status).not.toBe(0)
    expect(result.output).toContain("has no alphanumeric 'password'")
    expect(signals().at(-1)).toBe('BrokenTEST FAILURE')
  })

  describe('with WAL archiving to S3 and a synchronous replica', () => {
    let archivingPort: number
    let standbyPort: number
    const walEnv = { PGROUTE_WAL_BUCKET: 'test-wal-bucket', PGROUTE_WAL_PREFIX: 'wal' }

    beforeAll(async () => {
      archivingPort = await freePort()
      standbyPort = await freePort()
    })

    it('primary.sh archives through wal-s3.sh and lists replica_1 as its synchronous standby', async () => {
      const env = {
        ...primaryEnv('ArchivingPrimaryTEST', 'app'),
        ...commonEnv('ArchivingPrimaryTEST', archivingPort),
        PGROUTE_APP_USER: 'pgroute_app',
        PGROUTE_APP_SECRET_ARN: arn('app'),
        PGROUTE_DATABASE: 'pgroute',
        PGROUTE_REPLICA_SLOTS: 'replica_1',
        ...walEnv,
        PGROUTE_SYNCHRONOUS_STANDBY: 'replica_1',
        PGROUTE_SYNCHRONOUS_COMMIT: 'remote_apply',
      }
      // The standby does not exist yet: the bootstrap's own commits must not wait for it.
      const result = await runUserData('primary', 'archiving-primary', env, ['wal-s3'])
      expect(result.status, result.output).toBe(0)
      expect(signals().at(-1)).toBe('ArchivingPrimaryTEST SUCCESS')
      expect(superuserQuery(archivingPort, 'SHOW archive_mode')).toBe('on')
      expect(superuserQuery(archivingPort, 'SHOW archive_command')).toMatch(/\/wal-s3\.sh push "%p" "%f"$/)
      expect(superuserQuery(archivingPort, 'SHOW synchronous_standby_names')).toBe('FIRST 1 ("replica_1")')
      expect(superuserQuery(archivingPort, 'SHOW synchronous_commit')).toBe('remote_apply')
      const segment = superuserQuery(
        archivingPort,
        'SELECT pg_walfile_name(pg_current_wal_lsn()) FROM (SELECT pg_switch_wal()) AS s',
      )
      const object = join(awsDir, 's3/test-wal-bucket/wal', `${segment}.gz`)
      const deadline = Date.now() + 20_000
      while (!existsSync(object) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
      expect(existsSync(object), `${segment}.gz archived`).toBe(true)
      expect(superuserQuery(archivingPort, 'SELECT failed_count FROM pg_stat_archiver')).toBe('0')
    })

    it('replica.sh streams as the synchronous standby, with a restore_command fallback to the archive', async () => {
      const env = {
        ...commonEnv('ArchivingReplicaTEST', standbyPort),
        PGROUTE_PRIMARY_HOST: '127.0.0.1',
        PGROUTE_PRIMARY_PORT: String(archivingPort),
        PGROUTE_SLOT: 'replica_1',
        ...walEnv,
      }
      const result = await runUserData('replica', 'archiving-replica', env, ['wal-s3'])
      expect(result.status, result.output).toBe(0)
      expect(superuserQuery(standbyPort, 'SHOW restore_command')).toMatch(/\/wal-s3\.sh fetch "%f" "%p"$/)
      expect(superuserQuery(standbyPort, 'SHOW archive_mode')).toBe('off')
      expect(
        superuserQuery(archivingPort, 'SELECT application_name, sync_state FROM pg_stat_replication'),
      ).toBe('replica_1|sync')
      // remote_apply: once the commit returns, the standby has applied it.
      appQuery(archivingPort, 'CREATE TABLE IF NOT EXISTS probe (id int); INSERT INTO probe VALUES (7)')
      expect(appQuery(standbyPort, 'SELECT count(*) FROM probe WHERE id = 7')).toBe('1')
    })
  })

  it('never prints a password', () => {
    for (const output of outputs) {
      for (const secret of [appPassword, replicationPassword, 'Bad-Pw!']) expect(output).not.toContain(secret)
    }
  })
})
