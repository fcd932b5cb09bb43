/**
 * Starting and stopping the processes of a Patroni cluster on loopback: one etcd member and Patroni nodes running
 * Debian's PostgreSQL, all as an unprivileged account (the `postgres` account of Debian's package when this process
 * runs as root), in a temporary directory removed afterwards.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'

/** The account servers run as: undefined means this process's own. */
export interface RunAs {
  readonly uid: number
  readonly gid: number
}

/** A PostgreSQL installation with what Patroni needs (`pg_ctl`, `initdb`, `pg_basebackup`, `pg_rewind`). */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
  const tools = ['postgres', 'pg_ctl', 'initdb', 'pg_basebackup', 'pg_rewind']
  const found = versions.find((version) =>
    tools.every((tool) => existsSync(`${root}/${version}/bin/${tool}`)),
  )
  return found && `${root}/${found}/bin`
}

/** Whether `command` is on the PATH. */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${command}`))
}

/** The unprivileged account to run servers as: `postgres` (or `nobody`) when root, else the current user. */
export function serverAccount(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith(`${name}:`))
    const [, , uid, gid] = line?.split(':') ?? []
    if (uid && gid) return { uid: Number(uid), gid: Number(gid) }
  }
  throw new Error('running as root, but there is neither a postgres nor a nobody account to run servers as')
}

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Environment of server processes: no secrets of this process, a UTF-8 locale for initdb. */
function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', HOME: os.tmpdir() }
}

/** Spawns `command` as `runAs`, its output appended to `logFile`. */
export function spawnLogged(
  command: string,
  args: readonly string[],
  logFile: string,
  runAs: RunAs | undefined,
) {
  const log = createWriteStream(logFile, { flags: 'a' })
  const child = spawn(command, args, { ...runAs, env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  return child
}

/** Runs `command` to completion as `runAs` (killed after `timeoutMs`) and resolves to its output. */
export function runTool(
  command: string,
  args: readonly string[],
  runAs: RunAs | undefined,
  timeoutMs = 60_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { ...runAs, env: serverEnv(), timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || error.message}`))
      else resolve(stdout)
    })
  })
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function terminate(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs)
  })
  if (await Promise.race([exited.then(() => false), late])) child.kill('SIGKILL')
  clearTimeout(timer)
  await exited
}

/**
 * SIGQUIT (immediate shutdown) to a postmaster still running in `dataDir` (Patroni killed before it could stop
 * it), found by the pid in its `postmaster.pid`.
 */
export function stopOrphanPostmaster(dataDir: string): void {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0])
    if (pid > 0) process.kill(pid, 'SIGQUIT')
  } catch {
    // No postmaster.pid, or the process is gone: nothing runs.
  }
}
