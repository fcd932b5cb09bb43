import { spawn } from 'node:child_process'
import { binary } from './binaries-resolver.js'
import { ClusterError } from './cluster-error.js'
import { serverEnv } from './postgres-process.js'
import { type ServerUser, spawnIdentity } from './server-user.js'

/** How to run a PostgreSQL program to completion. */
export interface RunToolOptions {
  readonly binDir: string
  readonly user: ServerUser | undefined
  readonly cwd: string
  /** Written to the program's standard input, which is then closed. */
  readonly input?: string
  readonly timeoutMs: number
  /** Used in the error message, e.g. `initdb` or `primary set-up`. */
  readonly description: string
  /** Masks secrets in the output quoted by errors. */
  readonly redact: (text: string) => string
}

/**
 * Runs `initdb` or single-user `postgres` as the server user and resolves with its output; throws a
 * `PGROUTE_CLUSTER_START_FAILED` error quoting the output when it exits unsuccessfully or times out.
 */
export async function runTool(
  tool: string,
  args: readonly string[],
  options: RunToolOptions,
): Promise<string> {
  const child = spawn(binary(options.binDir, tool), args, {
    ...spawnIdentity(options.user),
    cwd: options.cwd,
    env: serverEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: options.timeoutMs,
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stdin.on('error', () => {}) // The program may exit before reading everything; its exit status tells.
  child.stdin.end(options.input ?? '')
  const result = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }))
    child.once('close', (code) => resolve({ code }))
  })
  if (result.code !== 0) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_START_FAILED',
      `${options.description} failed (exit status ${result.code ?? 'none'}):\n${options.redact(output.trim())}`,
      { cause: result.error },
    )
  }
  return output
}
