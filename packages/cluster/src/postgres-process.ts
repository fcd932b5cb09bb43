import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { binary } from './binaries-resolver.js'
import { ClusterError } from './cluster-error.js'
import type { ClusterLogEntry, StopMode } from './cluster-options.js'
import { signalServerTree, waitUntilStopped } from './process-tree.js'
import { type ServerUser, spawnIdentity } from './server-user.js'
import { sleep, sleepSync } from './sleep.js'

/** What {@link PostgresProcess.start} needs. */
export interface PostgresProcessOptions {
  readonly binDir: string
  readonly dataDir: string
  /** Node name, used in log entries and errors. */
  readonly name: string
  readonly user: ServerUser | undefined
  readonly log: (entry: ClusterLogEntry) => void
  /** Masks the cluster password in server output kept for error messages. */
  readonly redact: (text: string) => string
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
}

const stopSignals: Record<StopMode, NodeJS.Signals> = {
  smart: 'SIGTERM',
  fast: 'SIGINT',
  immediate: 'SIGQUIT',
}
const escalation: Record<StopMode, StopMode | undefined> = {
  smart: 'fast',
  fast: 'immediate',
  immediate: undefined,
}
const stopStepMs = 20_000
const keptLogLines = 40

/**
 * Environment of server processes: only what PostgreSQL needs, so that secrets in this process's environment are
 * not handed to another account. `LC_ALL=C` keeps server messages in English.
 */
export function serverEnv(): NodeJS.ProcessEnv {
  if (process.platform === 'win32') return process.env
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C' }
  for (const name of ['PATH', 'TZ', 'LD_LIBRARY_PATH', 'DYLD_LIBRARY_PATH']) {
    if (process.env[name] !== undefined) env[name] = process.env[name]
  }
  return env
}

/**
 * A postmaster spawned directly (no pg_ctl), so its pid is known and its exit observed. The child is unref'd: an
 * unfinished cluster does not keep Node alive, and the process-exit handler stops it instead.
 */
export class PostgresProcess {
  /** The postmaster's pid. */
  readonly pid: number
  /** Settles when the postmaster has exited. */
  readonly exited: Promise<void>
  #exitedFlag = false
  #hung = false
  readonly #recent: string[] = []
  readonly #options: PostgresProcessOptions

  private constructor(child: ChildProcess, options: PostgresProcessOptions) {
    this.#options = options
    this.pid = child.pid ?? -1
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.#exitedFlag = true
        resolve()
      })
    })
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8')
      let pending = ''
      stream?.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) this.#record(line)
      })
      ;(stream as unknown as { unref?: () => void } | null)?.unref?.()
    }
    child.unref()
  }

  /** Spawns `postgres -D <dataDir>` and resolves once it accepts connections (as primary or hot standby). */
  static async start(options: PostgresProcessOptions): Promise<PostgresProcess> {
    const child = spawn(binary(options.binDir, 'postgres'), ['-D', options.dataDir], {
      ...spawnIdentity(options.user),
      cwd: options.dataDir,
      env: serverEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined))
      child.once('error', resolve)
    })
    if (spawned) {
      throw new ClusterError('PGROUTE_CLUSTER_START_FAILED', `Could not run postgres for ${options.name}`, {
        cause: spawned,
        node: options.name,
      })
    }
    const server = new PostgresProcess(child, options)
    try {
      await server.#waitUntilReady()
      return server
    } catch (error) {
      await server.stop('immediate')
      throw error
    }
  }

  /** Whether the postmaster is still running. */
  get running(): boolean {
    return !this.#exitedFlag
  }

  /** The server's most recent output lines. */
  get recentLog(): string {
    return this.#recent.join('\n')
  }

  /** Whether the last start-up failed because the port was taken. */
  get addressInUse(): boolean {
    return this.#recent.some((line) => line.includes('Address already in use'))
  }

  /** Whether {@link hang} stopped the server's processes (and {@link resume} has not continued them yet). */
  get hung(): boolean {
    return this.#hung && this.running
  }

  /**
   * Freezes the postmaster and every child with SIGSTOP: connections stay open and accept bytes, nothing answers,
   * as on a machine that stalls.
   */
  async hang(): Promise<void> {
    if (!this.running) return
    this.#hung = true
    await waitUntilStopped(signalServerTree(this.pid, 'SIGSTOP'))
  }

  /** Continues what {@link hang} froze (SIGCONT to the postmaster and every child). */
  resume(): void {
    if (!this.#hung) return
    if (this.running) signalServerTree(this.pid, 'SIGCONT')
    this.#hung = false
  }

  /**
   * SIGKILL to the postmaster and every child at once, as when the machine dies: no shutdown checkpoint, open
   * connections are cut. Resolves when the postmaster has exited.
   */
  async kill(): Promise<void> {
    if (!this.running) return
    signalServerTree(this.pid, 'SIGKILL')
    this.#hung = false
    await this.exited
  }

  /** Asks the server to reload its configuration files (SIGHUP, as `pg_ctl reload` does). */
  reload(): void {
    if (this.running) process.kill(this.pid, 'SIGHUP')
  }

  /**
   * Shuts the server down in `mode` and resolves when the postmaster has exited (it exits after all its children).
   * A mode that does not finish in time escalates (smart -> fast -> immediate -> SIGKILL).
   */
  async stop(mode: StopMode = 'fast'): Promise<void> {
    this.resume() // A frozen server would hold the shutdown signal pending until SIGKILL.
    for (let step: StopMode | undefined = mode; step && this.running; step = escalation[step]) {
      this.#signal(stopSignals[step])
      if (await this.#exitWithin(stopStepMs)) return
    }
    this.#signal('SIGKILL')
    await this.exited
  }

  /**
   * Immediate shutdown that blocks until the postmaster is gone, for `process.on('exit')` where no event loop runs.
   */
  stopSync(timeoutMs = 5000): void {
    if (!this.running) return
    this.resume()
    this.#signal('SIGQUIT')
    const deadline = Date.now() + timeoutMs
    while (!processGone(this.pid)) {
      if (Date.now() > deadline) {
        this.#signal('SIGKILL')
        return
      }
      sleepSync(10)
    }
  }

  #signal(signal: NodeJS.Signals) {
    try {
      process.kill(this.pid, signal)
    } catch {
      // Already gone.
    }
  }

  #record(line: string) {
    if (line.length === 0) return
    this.#recent.push(this.#options.redact(line))
    if (this.#recent.length > keptLogLines) this.#recent.shift()
    this.#options.log({ source: 'postgres', node: this.#options.name, message: line })
  }

  async #exitWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    })
    const result = await Promise.race([this.exited.then(() => true), timeout])
    clearTimeout(timer)
    return result
  }

  /** Polls postmaster.pid, whose 8th line is the server's status (`ready` or `standby` once it takes connections). */
  async #waitUntilReady(): Promise<void> {
    const { name, dataDir, timeoutMs, signal } = this.#options
    const deadline = Date.now() + timeoutMs
    const pidFile = path.join(dataDir, 'postmaster.pid')
    for (;;) {
      if (!this.running) {
        throw new ClusterError(
          'PGROUTE_CLUSTER_START_FAILED',
          `${name} exited during start-up. Server output:\n${this.recentLog}`,
          { node: name },
        )
      }
      if (signal?.aborted) {
        throw new ClusterError('PGROUTE_CLUSTER_ABORTED', `Start-up of ${name} was aborted`, {
          cause: signal.reason,
          node: name,
        })
      }
      const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n')
      const status = lines[7]?.trim()
      if (lines[0] === String(this.pid) && (status === 'ready' || status === 'standby')) return
      if (Date.now() > deadline) {
        throw new ClusterError(
          'PGROUTE_CLUSTER_TIMEOUT',
          `${name} did not accept connections within ${timeoutMs} ms. Server output:\n${this.recentLog}`,
          { node: name },
        )
      }
      await sleep(20)
    }
  }
}

/** True when no process `pid` exists any more, or only its zombie (exited, not yet reaped). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}
