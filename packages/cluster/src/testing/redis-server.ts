import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { Socket } from 'node:net'
import { findFreePort, loopback } from '../free-port.js'

/** A `redis-server` this process started on loopback, without persistence (for queue tests, e.g. BullMQ). */
export interface RedisServer {
  readonly host: string
  readonly port: number
  /** Stops the server and resolves once it has exited. Idempotent. */
  stop(): Promise<void>
}

/**
 * Why Redis-backed tests cannot run here (`redis-server` is not on PATH), for `context.skip(reason)`, or
 * `undefined` when they can.
 */
export function redisMissing(): string | undefined {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'needs redis-server (Debian: apt-get install redis-server; .ci/run installs it)'
  }
}

// Runs redis-server as its child and stops it when asked (TERM), when it exits, or once the owner ("$1") is gone,
// even killed with SIGKILL: a crashed test run leaves no server behind.
const script = `
redis-server --port "$2" --bind "$3" --save '' --appendonly no --daemonize no --loglevel warning &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server"; exit 0' TERM INT
while kill -0 "$1" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1 & wait $!; done
kill "$server" 2>/dev/null
wait "$server"
`

async function answersPing(port: number): Promise<boolean> {
  const socket = new Socket()
  try {
    socket.connect(port, loopback)
    await once(socket, 'connect')
    socket.write('PING\r\n')
    const [data] = await once(socket, 'data')
    return String(data).startsWith('+PONG')
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

/**
 * Starts `redis-server` on a free loopback port and resolves once it answers `PING` (within 10 s). The caller
 * stops it; if the calling process dies first, the server stops within a second. Needs `redis-server` on PATH
 * (see {@link redisMissing}).
 *
 * @example
 * ```ts
 * const redis = await startRedis()
 * const queue = new Queue('mail', { connection: { host: redis.host, port: redis.port } })
 * afterAll(() => redis.stop())
 * ```
 */
export async function startRedis(): Promise<RedisServer> {
  const port = await findFreePort()
  const child = spawn(
    '/bin/sh',
    ['-c', script, 'pgroute-redis', String(process.pid), String(port), loopback],
    {
      stdio: 'ignore',
    },
  )
  const exited = once(child, 'exit')
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  }
  const deadline = Date.now() + 10_000
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`redis-server did not answer on ${loopback}:${port} within 10 s`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { host: loopback, port, stop }
}
