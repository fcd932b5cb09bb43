import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { defaultStatePath, readState, removeState, stateOf, writeState } from './cli-state.js'
import type { AuthMethod } from './client-auth.js'
import { isClusterError } from './cluster-error.js'
import type { ClusterBackend, StartClusterOptions } from './cluster-options.js'
import { connectCluster } from './external-cluster.js'
import { processGone } from './postgres-process.js'
import { sleep } from './sleep.js'
import { startCluster } from './start-cluster.js'
import { formatStatus } from './status-table.js'

const usage = `Usage: pgroute-cluster <command> [options]

Commands:
  up       Start a primary and replicas on 127.0.0.1, print their URLs, run until Ctrl-C (or \`down\`)
  status   Role, LSNs (current/receive/replay) and lag of each node of the running cluster
  down     Stop the cluster started by \`up\`

Options of up:
  --replicas <n>      Number of replicas (default 1, or the number of --delay/--sync flags needed)
  --delay <duration>  Apply delay of the next replica, in order: --delay 0 --delay 2s delays replica-2 by 2 s
  --sync <n>          Make replica <n> synchronous (repeatable)
  --backend <name>    embedded (default) or docker (needs testcontainers and a Docker engine)
  --bin-dir <dir>     PostgreSQL binaries to use (default: PGROUTE_PG_BIN or the npm package)
  --base-dir <dir>    Where the temporary data directory is created (default: the OS temp directory)
  --keep              Keep the data directories after stopping
  --database <name>   Database in the URLs (default postgres)
  --user <name>       Superuser in the URLs (default postgres)
  --auth <method>     Client authentication: scram-sha-256 (default), md5, trust (no password in the URLs) or
                      cert (client certificate; implies --tls)
  --tls               TLS with a throw-away CA (needs openssl): the URLs say sslmode=verify-full
  --verbose           Print server output
Options of status:
  --json              Machine-readable output
Common:
  --state-file <path> State file shared by up/status/down (default: <tmp>/pgroute-cluster/state.json)
  -h, --help          This text`

const options = {
  replicas: { type: 'string' },
  delay: { type: 'string', multiple: true },
  sync: { type: 'string', multiple: true },
  backend: { type: 'string' },
  'bin-dir': { type: 'string' },
  'base-dir': { type: 'string' },
  keep: { type: 'boolean' },
  database: { type: 'string' },
  user: { type: 'string' },
  auth: { type: 'string' },
  tls: { type: 'boolean' },
  verbose: { type: 'boolean' },
  json: { type: 'boolean' },
  'state-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values']

/** Runs the command line `args` and resolves with the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`)
    return 2
  }
  const { values, positionals } = parsed
  const command = positionals[0]
  if (values.help || command === undefined) {
    console.log(usage)
    return command === undefined && !values.help ? 2 : 0
  }
  const stateFile = values['state-file'] ?? defaultStatePath()
  switch (command) {
    case 'up':
      return up(values, stateFile)
    case 'status':
      return status(values, stateFile)
    case 'down':
      return down(stateFile)
    default:
      console.error(`Unknown command '${command}'.\n\n${usage}`)
      return 2
  }
}

async function up(values: Flags, stateFile: string): Promise<number> {
  const existing = readState(stateFile)
  if (existing && !processGone(existing.pid)) {
    console.error(
      `A cluster is already running (pid ${existing.pid}); stop it with \`pgroute-cluster down\`.`,
    )
    return 1
  }
  const delays = values.delay ?? []
  const sync = (values.sync ?? []).map(Number)
  const replicas =
    values.replicas === undefined ? Math.max(1, delays.length, ...sync) : Number(values.replicas)
  const replicaOptions = Array.from({ length: Math.max(delays.length, ...sync, 0) }, (_, index) => ({
    ...(delays[index] === undefined ? {} : { applyDelay: delays[index] }),
    ...(sync.includes(index + 1) ? { synchronous: true } : {}),
  }))
  if (replicaOptions.length > replicas) {
    console.error(`--delay/--sync name ${replicaOptions.length} replicas but --replicas is ${replicas}.`)
    return 2
  }
  const keep = values.keep ?? false
  // Signals abort the start-up, then stop the running cluster. Listening for them also keeps the library's
  // handlers from re-raising them before this function has cleaned up.
  const abort = new AbortController()
  let stopRequested: (signal: NodeJS.Signals) => void = () => {}
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve))
  const onSignal = (signal: NodeJS.Signals) => {
    abort.abort(new Error(`${signal} during start-up`))
    stopRequested(signal)
  }
  for (const name of signals) process.on(name, onSignal)
  const startOptions: StartClusterOptions = {
    replicas,
    replicaOptions,
    keep,
    signal: abort.signal,
    log: values.verbose ? (entry) => console.error(`[${entry.node ?? 'cluster'}] ${entry.message}`) : false,
    ...(values.backend ? { backend: values.backend as ClusterBackend } : {}),
    ...(values['bin-dir'] ? { binDir: values['bin-dir'] } : {}),
    ...(values['base-dir'] ? { baseDir: values['base-dir'] } : {}),
    ...(values.database ? { database: values.database } : {}),
    ...(values.user ? { user: values.user } : {}),
    ...(values.auth ? { auth: values.auth as AuthMethod } : {}),
    ...(values.tls ? { tls: true } : {}),
  }
  const started = Date.now()
  const cluster = await startCluster(startOptions)
  writeState(stateFile, stateOf(cluster, keep))

  const width = Math.max(...cluster.nodes.map((node) => node.name.length))
  console.log(`Cluster up in ${Date.now() - started} ms. Ctrl-C or \`pgroute-cluster down\` stops it.\n`)
  for (const node of cluster.nodes) {
    const notes = [
      node.applyDelayMs ? `apply delay ${node.applyDelayMs} ms` : '',
      node.synchronous ? 'sync' : '',
    ]
    const note = notes.filter(Boolean).join(', ')
    console.log(`  ${node.name.padEnd(width)}  ${node.url}${note ? `  (${note})` : ''}`)
  }
  console.log('\nTo run test suites against it:')
  console.log(`  export PGROUTE_PRIMARY_URL='${cluster.primary.url}'`)
  console.log(`  export PGROUTE_REPLICA_URLS='${cluster.replicas.map((node) => node.url).join(',')}'`)
  if (cluster.dataDir) console.log(`\nData: ${cluster.dataDir}${keep ? ' (kept after stop)' : ''}`)

  const keepAlive = setInterval(() => {}, 60_000)
  const signal = await stopSignal
  console.log(`\n${signal}: stopping the cluster...`)
  await cluster.stop()
  removeState(stateFile, process.pid)
  clearInterval(keepAlive)
  for (const name of signals) process.off(name, onSignal)
  console.log('Stopped.')
  return 0
}

async function status(values: Flags, stateFile: string): Promise<number> {
  const state = readState(stateFile)
  if (!state) {
    console.error('No cluster is running (no state file). Start one with `pgroute-cluster up`.')
    return 1
  }
  if (processGone(state.pid)) {
    console.error(`The cluster's owner (pid ${state.pid}) is gone; \`pgroute-cluster down\` cleans up.`)
    return 1
  }
  const primary = state.nodes.find((node) => node.role === 'primary')
  const cluster = connectCluster({
    primaryUrl: primary?.url ?? '',
    replicaUrls: state.nodes.filter((node) => node !== primary).map((node) => node.url),
  })
  const result = await cluster.status()
  // Nodes keep the names `up` gave them.
  const nodes = result.nodes.map((node, index) => ({ ...node, name: state.nodes[index]?.name ?? node.name }))
  const named = { ...result, backend: state.backend, nodes }
  console.log(values.json ? JSON.stringify(named, null, 2) : formatStatus(named))
  return nodes.every((node) => node.reachable) ? 0 : 1
}

async function down(stateFile: string): Promise<number> {
  const state = readState(stateFile)
  if (!state) {
    console.log('No cluster is running.')
    return 0
  }
  if (!processGone(state.pid)) {
    process.kill(state.pid, 'SIGTERM')
    const deadline = Date.now() + 60_000
    while (!processGone(state.pid)) {
      if (Date.now() > deadline) {
        console.error(`The owner (pid ${state.pid}) did not stop within 60 s.`)
        return 1
      }
      await sleep(50)
    }
    removeState(stateFile, state.pid)
    console.log(`Stopped the cluster of pid ${state.pid}.`)
    return 0
  }
  // The owner died without cleaning up (e.g. SIGKILL): stop what it left behind.
  let stopped = 0
  for (const node of state.nodes) {
    if (node.pid !== undefined && state.dataDir && commandLine(node.pid).includes(state.dataDir)) {
      process.kill(node.pid, 'SIGQUIT')
      stopped++
    }
  }
  for (const node of state.nodes)
    while (node.pid !== undefined && stopped > 0 && !processGone(node.pid)) await sleep(50)
  if (state.dataDir && !state.keep) rmSync(state.dataDir, { recursive: true, force: true })
  rmSync(stateFile, { force: true })
  console.log(`The owner (pid ${state.pid}) was gone; stopped ${stopped} leftover server(s).`)
  return 0
}

function commandLine(pid: number): string {
  const result = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout : ''
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    if (process.argv[2] === 'up') process.exit(code) // Leave at once; nothing else is worth waiting for.
  },
  (error: unknown) => {
    console.error(isClusterError(error) ? `${error.code}: ${error.message}` : error)
    process.exit(1)
  },
)
