import { type ChildProcess, spawn } from 'node:child_process'
import net from 'node:net'
import { ClusterError } from './cluster-error.js'
import { loopback } from './free-port.js'
import { serverEnv } from './postgres-process.js'
import { trackForCleanup } from './process-cleanup.js'
import { type ServerUser, spawnIdentity } from './server-user.js'
import { sleep } from './sleep.js'

/** What {@link HelperProcess.start} needs. */
export interface HelperProcessOptions {
  /** Shown in errors, e.g. `pgbouncer for replica-1`. */
  readonly name: string
  readonly command: string
  readonly args: readonly string[]
  readonly user: ServerUser | undefined
  /** The loopback port it listens on once it is ready. */
  readonly port: number
  readonly timeoutMs: number
  /** Receives every output line. */
  readonly log?: (line: string) => void
}

const keptLines = 30
const stopGraceMs = 5000

/**
 * A daemon in front of the servers (PgBouncer, HAProxy), run in the foreground as the servers' unprivileged
 * account: started, considered ready once its port accepts TCP connections, and always stopped (SIGTERM, then
 * SIGKILL), also when this process exits without stopping it.
 */
export class HelperProcess {
  readonly #child: ChildProcess
  readonly #options: HelperProcessOptions
  readonly #recent: string[] = []
  readonly exited: Promise<void>
  #exitedFlag = false
  readonly #untrack: () => void

  private constructor(child: ChildProcess, options: HelperProcessOptions) {
    this.#child = child
    this.#options = options
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.#exitedFlag = true
        resolve()
      }),
    )
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8')
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (line.trim() === '') continue
          this.#recent.push(line)
          if (this.#recent.length > keptLines) this.#recent.shift()
          options.log?.(line)
        }
      })
      ;(stream as unknown as { unref?: () => void } | null)?.unref?.()
    }
    child.unref()
    this.#untrack = trackForCleanup({ stop: () => this.stop(), stopSync: () => this.#kill('SIGKILL') })
  }

  /** Spawns the daemon and resolves once its port accepts connections; rejects (and stops it) otherwise. */
  static async start(options: HelperProcessOptions): Promise<HelperProcess> {
    const child = spawn(options.command, [...options.args], {
      ...spawnIdentity(options.user),
      env: serverEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined))
      child.once('error', resolve)
    })
    if (spawned) {
      throw new ClusterError('PGROUTE_CLUSTER_START_FAILED', `Could not run ${options.name}`, {
        cause: spawned,
      })
    }
    const helper = new HelperProcess(child, options)
    try {
      await helper.#waitUntilListening()
      return helper
    } catch (error) {
      await helper.stop()
      throw error
    }
  }

  get pid(): number {
    return this.#child.pid ?? -1
  }

  get running(): boolean {
    return !this.#exitedFlag
  }

  /** Its most recent output lines. */
  get recentLog(): string {
    return this.#recent.join('\n')
  }

  /** SIGHUP: PgBouncer and HAProxy (master-worker) reload their configuration on it. */
  reload(): void {
    this.#kill('SIGHUP')
  }

  /** SIGTERM, SIGKILL after 5 s; resolves when the process has exited. */
  async stop(): Promise<void> {
    try {
      if (!this.running) return
      this.#kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), stopGraceMs)
      })
      if (await Promise.race([this.exited.then(() => false), late])) this.#kill('SIGKILL')
      clearTimeout(timer)
      await this.exited
    } finally {
      this.#untrack()
    }
  }

  #kill(signal: NodeJS.Signals): void {
    if (!this.running) return
    try {
      this.#child.kill(signal)
    } catch {
      // Already gone.
    }
  }

  async #waitUntilListening(): Promise<void> {
    const { name, port, timeoutMs } = this.#options
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (!this.running) {
        throw new ClusterError(
          'PGROUTE_CLUSTER_START_FAILED',
          `${name} exited during start-up. Its output:\n${this.recentLog}`,
        )
      }
      if (await accepts(port)) return
      if (Date.now() > deadline) {
        throw new ClusterError(
          'PGROUTE_CLUSTER_TIMEOUT',
          `${name} did not listen on ${loopback}:${port} within ${timeoutMs} ms. Its output:\n${this.recentLog}`,
        )
      }
      await sleep(20)
    }
  }
}

/** Whether a TCP connection to the loopback `port` succeeds. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: loopback, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
