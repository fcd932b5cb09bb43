/**
 * pgpool-II (Debian's `pgpool2`) in front of a local cluster, for the `peers` bench: streaming-replication mode
 * with load balancing, reads sent to the replica (weight 0 on the primary), started as an unprivileged account in a
 * temporary directory, and always stopped (fast shutdown, then SIGKILL to its process group) and removed.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import {
  chownSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster } from '@pgroute/cluster'
import pg from 'pg'
import { freePort, serverAccount } from './chaos/patroni-processes.js'
import { treeCpuNanos } from './proc-stat.js'

/** Where Debian's package puts the binary (`/usr/sbin` is not on every PATH). */
function pgpoolBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'].filter(
    (dir) => dir !== '',
  )
  return dirs.map((dir) => path.join(dir, 'pgpool')).find((file) => existsSync(file))
}

/** Why pgpool-II cannot run here, or `undefined` when it can. */
export function pgpoolUnavailable(): string | undefined {
  return pgpoolBinary() === undefined
    ? 'pgpool not installed (Debian: apt-get install -y pgpool2)'
    : undefined
}

/** A running pgpool-II. */
export interface Pgpool {
  /** `postgres://user:password@127.0.0.1:<port>/<database>`: connect here as to a server. */
  readonly url: string
  /** CPU time of the pgpool processes so far (the main process and every child), in microseconds. */
  cpuMicros(): number
  /** `SHOW POOL_NODES`: per backend, its role, weight and `select_cnt` (SELECTs pgpool sent there). */
  nodes(): Promise<readonly PoolNode[]>
  /** Fast shutdown, then SIGKILL to whatever of its process group is left; removes its directory. Idempotent. */
  stop(): Promise<void>
}

/** One row of `SHOW POOL_NODES`. */
export interface PoolNode {
  readonly port: string
  readonly role: string
  readonly weight: string
  readonly selects: number
}

/** How long pgpool-II may take to accept connections. */
const START_TIMEOUT_MS = 30_000

/**
 * Starts pgpool-II in front of `cluster` (its primary as backend 0, weight 0; its first replica as backend 1, weight
 * 1): streaming-replication mode, `load_balance_mode = on` (session-level: a session's reads go to the node it was
 * balanced to, its writes to the primary), 32 children caching one backend connection each, SCRAM authentication
 * with the cluster's password (in `pool_passwd`), every other setting Debian's default. Replication-delay checks
 * read the replica's position every 10 s (`sr_check_period`, the default); `delay_threshold` is 0 (off), so lag
 * does not steer reads (as by default).
 */
export async function startPgpool(cluster: Cluster): Promise<Pgpool> {
  const binary = pgpoolBinary()
  if (binary === undefined) throw new Error(pgpoolUnavailable())
  const replica = cluster.replicas[0]
  if (replica === undefined) throw new Error('pgpool-II needs a cluster with a replica')
  const { password } = cluster.primary.connectionConfig
  const account = serverAccount()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgroute-pgpool-'))
  const [port, pcpPort] = [await freePort(), await freePort()]
  const files = {
    conf: path.join(dir, 'pgpool.conf'),
    pcp: path.join(dir, 'pcp.conf'),
    hba: path.join(dir, 'pool_hba.conf'),
    passwd: path.join(dir, 'pool_passwd'),
    log: path.join(dir, 'pgpool.log'),
  }
  const quote = (value: string) => `'${value.replace(/'/g, "''")}'`
  const settings: Record<string, string | number> = {
    backend_clustering_mode: quote('streaming_replication'),
    listen_addresses: quote('127.0.0.1'),
    port,
    unix_socket_directories: quote(dir),
    pcp_listen_addresses: quote(''),
    pcp_port: pcpPort,
    pcp_socket_dir: quote(dir),
    pid_file_name: quote(path.join(dir, 'pgpool.pid')),
    logdir: quote(dir),
    log_destination: quote('stderr'),
    backend_hostname0: quote(cluster.primary.host),
    backend_port0: cluster.primary.port,
    backend_weight0: 0,
    backend_flag0: quote('DISALLOW_TO_FAILOVER'),
    backend_hostname1: quote(replica.host),
    backend_port1: replica.port,
    backend_weight1: 1,
    backend_flag1: quote('DISALLOW_TO_FAILOVER'),
    enable_pool_hba: 'on',
    pool_passwd: quote(files.passwd),
    num_init_children: 32,
    max_pool: 1,
    load_balance_mode: 'on',
    sr_check_user: quote(cluster.user),
    sr_check_password: quote(password),
    health_check_period: 0,
    failover_on_backend_error: 'off',
  }
  writeFileSync(
    files.conf,
    `${Object.entries(settings)
      .map(([key, value]) => `${key} = ${value}`)
      .join('\n')}\n`,
  )
  writeFileSync(files.pcp, '')
  writeFileSync(files.hba, 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n')
  // `TEXT` prefix: the password in clear, which pgpool-II needs to speak SCRAM to both sides.
  writeFileSync(files.passwd, `${cluster.user}:TEXT${password}\n`, { mode: 0o600 })
  if (account) {
    for (const file of [dir, ...Object.values(files)]) {
      if (file !== files.log) chownSync(file, account.uid, account.gid)
    }
  }

  const log = createWriteStream(files.log)
  const child = spawn(binary, ['-n', '-f', files.conf, '-F', files.pcp, '-a', files.hba], {
    ...account,
    cwd: dir,
    detached: true, // its own process group, so that stop() reaches every child it forked
    env: { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  child.unref()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid, dir)

  const url = `postgres://${encodeURIComponent(cluster.user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${cluster.database}`
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await shutdown(child, exited)
    watchdog?.kill('SIGKILL')
    log.end()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitUntilAccepting(url, child, files.log)
  } catch (error) {
    await stop()
    throw error
  }
  return {
    url,
    cpuMicros: () => (child.pid === undefined ? 0 : treeCpuNanos(child.pid) / 1000),
    async nodes() {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        const { rows } = await client.query<Record<string, string>>('SHOW POOL_NODES')
        return rows.map((row) => ({
          port: row.port ?? '',
          role: row.role ?? '',
          weight: row.lb_weight ?? '',
          selects: Number(row.select_cnt ?? 0),
        }))
      } finally {
        await client.end()
      }
    },
    stop,
  }
}

// Runs detached from this process: once the bench is gone (killed, when no handler of ours can run), it shuts
// pgpool-II down (fast, then SIGKILL to its process group) and removes its directory.
const WATCHDOG_SCRIPT = `
while kill -0 "$1" 2>/dev/null; do sleep 1; done
kill -INT "$2" 2>/dev/null
for attempt in 1 2 3 4 5; do kill -0 "$2" 2>/dev/null || break; sleep 1; done
kill -KILL -- "-$2" 2>/dev/null
rm -rf "$3"
`

/** Starts the shell that stops pgpool-II `pid` (and removes `dir`) if this process dies without stopping it. */
function startWatchdog(pid: number, dir: string): ChildProcess {
  const watchdog = spawn(
    '/bin/sh',
    ['-c', WATCHDOG_SCRIPT, 'pgroute-pgpool-watchdog', String(process.pid), String(pid), dir],
    {
      detached: true,
      stdio: 'ignore',
    },
  )
  watchdog.on('error', () => {}) // without a shell there is simply no watchdog
  watchdog.unref()
  return watchdog
}

/** Connects until pgpool-II answers a statement; throws with the end of its log if it exits or takes too long. */
async function waitUntilAccepting(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `pgpool-II exited (${child.exitCode ?? child.signalCode}) at start: ${logTail(logFile)}`,
      )
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      return
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(
          `pgpool-II did not accept connections within ${START_TIMEOUT_MS} ms: ${logTail(logFile)}`,
          {
            cause: error,
          },
        )
      }
    } finally {
      await client.end().catch(() => {})
    }
    await sleep(200)
  }
}

/** SIGINT (pgpool-II's fast shutdown) and up to 10 s to exit; then SIGKILL to its whole process group. */
async function shutdown(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))])
    clearTimeout(timer)
  }
  try {
    process.kill(-pid, 'SIGKILL') // children left behind, if any
  } catch {
    // ESRCH: the group is gone, as it should be.
  }
  await Promise.race([exited, sleep(2000)])
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-8).join(' | ')
  } catch {
    return '(no log)'
  }
}
