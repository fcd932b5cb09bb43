import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { type AddressInfo, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const appDir = fileURLToPath(new URL('../next-app', import.meta.url))
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next')

// Runs the command given after the owner's pid as its child, and stops it when asked (TERM), when it exits, or
// once the owner is gone (even killed with SIGKILL): a crashed test run leaves no server behind.
const owned = `
owner=$1; shift
"$@" &
child=$!
trap 'kill "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1 & wait $!; done
kill "$child" 2>/dev/null
wait "$child"
`

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return spawn(
    '/bin/sh',
    ['-c', owned, 'pgroute-next', String(process.pid), process.execPath, nextBin, ...args],
    {
      cwd: appDir,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
}

/** Builds the example Next.js app (`next build --webpack`); rejects with its output when it fails. */
export async function buildNextApp(): Promise<void> {
  const child = await run(['build', '--webpack'], {})
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`next build failed (${code}):\n${output}`)
}

/** The example app served by `next start` on `port`, with the router's URLs in its environment. */
export interface NextServer {
  readonly base: string
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts `next start` (after {@link buildNextApp}) on a free port and resolves once it answers. */
export async function startNextApp(env: NodeJS.ProcessEnv): Promise<NextServer> {
  const port = await freePort()
  const child = await run(['start', '--port', String(port), '--hostname', '127.0.0.1'], env)
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = once(child, 'exit')
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  }
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      const response = await fetch(`${base}/posts/0`)
      if (response.status === 404) break
    } catch {
      // Not listening yet.
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`next start did not answer on ${base}:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { base, stop }
}
