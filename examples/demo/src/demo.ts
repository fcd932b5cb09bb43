import { parseArgs } from 'node:util'
import { type DemoApp, DemoOptionError, type DemoOptions, resolveDemoOptions } from './demo-options.js'
import { formatSummary } from './demo-summary.js'
import { StartupProgress } from './startup-progress.js'

// `pnpm demo`: see HELP, or examples/README.md.

const HELP = `Usage: pnpm demo [options]

Starts a PostgreSQL primary and two replicas on 127.0.0.1 (replica-2 replays WAL 2 s late), serves an
example app on a free port, and drives it over HTTP with virtual users that each carry their own
read-your-writes token (x-pgroute-token). Prints the node table every second, then a summary.

Options:
  --app <kysely|drizzle>  example app to run (default: kysely)
  --duration <seconds>    how long to drive traffic (default: 20)
  --users <n>             concurrent virtual users (default: 8)
  --kill-replica          stop replica-1 (immediate shutdown) a third of the way in, start it again at two thirds
  --no-tokens             authors do NOT send their token back: see reads miss their own writes
                          (the run then reports stale reads and exits 1)
  --far-replica <rtt>     put replica-1 in another zone: a delay proxy adds this round-trip time to every
                          exchange with it (e.g. 3ms, 0.5ms); the table shows each node's read time
  -h, --help              show this help

Exit status: 0 when no read missed its own write and no request failed, 1 otherwise, 2 for bad options,
130 when stopped with Ctrl-C (everything started is stopped first).
`

function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || Number.isNaN(n))
    throw new DemoOptionError(flag, `expected a number, got '${value}'`)
  return n
}

let args: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    options: {
      app: { type: 'string' },
      duration: { type: 'string' },
      users: { type: 'string' },
      'kill-replica': { type: 'boolean', default: false },
      'no-tokens': { type: 'boolean', default: false },
      'far-replica': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  }).values
}
try {
  args = parse()
} catch (error) {
  console.error(`${(error as Error).message}\n\n${HELP}`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const controller = new AbortController()
let demoOptions: DemoOptions
try {
  demoOptions = {
    app: args.app as DemoApp | undefined,
    duration: numberFlag(args.duration, 'duration'),
    users: numberFlag(args.users, 'users'),
    killReplica: args['kill-replica'],
    tokens: !args['no-tokens'],
    ...(args['far-replica'] === undefined ? {} : { farReplica: args['far-replica'] }),
    signal: controller.signal,
  }
  // Checked before anything loads or starts, so a typo is answered at once.
  resolveDemoOptions(demoOptions)
} catch (error) {
  console.error(`${(error as Error).message}\n\n${HELP}`)
  process.exit(2)
}

let interruptedAt = 0
let warned = false
process.on('SIGINT', () => {
  if (!controller.signal.aborted) {
    interruptedAt = Date.now()
    console.log('\nStopping: traffic, server, router, cluster…')
    controller.abort()
    return
  }
  // The same Ctrl-C can arrive twice: from the terminal and relayed by a wrapper (tsx, pnpm).
  if (Date.now() - interruptedAt < 1000) return
  if (!warned) {
    warned = true
    console.error('Still stopping the servers; press Ctrl-C once more to quit without waiting.')
    return
  }
  process.exit(130)
})
process.once('SIGTERM', () => controller.abort())

// The demo's modules are TypeScript compiled on the fly: a few seconds on a cold start, worth saying so.
console.log('pgroute demo: starting up')
const loading = new StartupProgress(process.stdout)
loading.step('Loading the demo')
const { runDemo } = await import('./run-demo.js')
loading.finish()

try {
  const summary = await runDemo(demoOptions)
  console.log(formatSummary(summary))
  process.exitCode = summary.interrupted ? 130 : summary.ok ? 0 : 1
} catch (error) {
  if (controller.signal.aborted) {
    console.log('Stopped before the traffic started.')
    process.exitCode = 130
  } else {
    console.error(error)
    process.exitCode = 1
  }
}
