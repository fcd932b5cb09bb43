import { rmSync } from 'node:fs'
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ClusterError, invalidOption } from './cluster-error.js'
import { findFreePort, loopback } from './free-port.js'
import { HelperProcess } from './helper-process.js'
import { trackForCleanup } from './process-cleanup.js'
import { serverUser } from './server-user.js'
import { systemBinary, systemBinaryMissing } from './system-binary.js'

/** A server behind HAProxy: a node of a cluster, or any `host:port`. */
export interface HaproxyServer {
  readonly name: string
  readonly host: string
  readonly port: number
  /**
   * Port of an HTTP health check on the same host (Patroni's REST API): the server takes connections only while
   * `GET <httpCheck.path>` there answers 200. Used with {@link HaproxyOptions.httpCheck}.
   */
  readonly checkPort?: number
  /** HAProxy's `maxconn` for this server: with `balance: 'first'`, connections beyond it go to the next server. */
  readonly maxconn?: number
}

/** Options of {@link startHaproxy}. */
export interface HaproxyOptions {
  /** How HAProxy spreads new connections over the servers. Default `'roundrobin'`. */
  readonly balance?: 'roundrobin' | 'leastconn' | 'first' | 'random'
  /**
   * An HTTP health check per server (`option httpchk GET <path>`, on each server's `checkPort`), as Patroni's
   * documentation configures HAProxy: `/primary`, `/replica`, `/replica?lag=16MB`. Checked every `intervalMs`
   * (default 500). Without it HAProxy checks nothing and forwards to every server.
   */
  readonly httpCheck?: { readonly path: string; readonly intervalMs?: number }
  /** Time limit for HAProxy to listen. Default 20000 ms. */
  readonly startTimeoutMs?: number
}

/** One HAProxy TCP listener in front of several servers; see {@link startHaproxy}. */
export interface HaproxyListener {
  readonly host: string
  readonly port: number
  /** `url` with HAProxy's address in place of its host and port (user, password, database and query kept). */
  urlFor(url: string): string
  /** Stops HAProxy and removes its configuration; resolves when the process has exited. */
  stop(): Promise<void>
}

/** Why HAProxy cannot run here, or `undefined` when it can: the reason tests that need it skip with. */
export function haproxyUnavailable(): string | undefined {
  return systemBinaryMissing('haproxy')
}

/**
 * Starts the system's HAProxy (e.g. Debian's package) with one TCP listener on a free loopback port in front of
 * `servers`: one address whose connections land on different servers, as behind a cloud reader endpoint or a
 * Kubernetes `-ro` service. It runs as the servers' account, in the foreground, and is stopped by `stop()` and when
 * this process exits.
 *
 * @example
 * ```ts
 * const readers = await startHaproxy(cluster.replicas)
 * const router = createRouter({ primary: cluster.primary.url, replicas: [readers.urlFor(cluster.replicas[0].url)] })
 * ```
 */
export async function startHaproxy(
  servers: readonly HaproxyServer[],
  options: HaproxyOptions = {},
): Promise<HaproxyListener> {
  if (!Array.isArray(servers) || servers.length === 0)
    throw invalidOption('servers', 'expected at least one server')
  const balance = options.balance ?? 'roundrobin'
  if (!['roundrobin', 'leastconn', 'first', 'random'].includes(balance)) {
    throw invalidOption(
      'balance',
      `expected roundrobin, leastconn, first or random, got ${JSON.stringify(balance)}`,
    )
  }
  const binary = systemBinary('haproxy')
  if (!binary) throw new ClusterError('PGROUTE_CLUSTER_BINARIES_NOT_FOUND', haproxyUnavailable()!)
  const check = options.httpCheck
  if (check && servers.some((server) => server.checkPort === undefined)) {
    throw invalidOption('httpCheck', 'needs a checkPort on every server')
  }
  const user = serverUser()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgroute-haproxy-'))
  let helper: HelperProcess | undefined
  // HAProxy stops itself when this process exits (see HelperProcess); the directory goes with it.
  const untrack = trackForCleanup({
    stop: async () => {
      await helper?.stop()
      await rm(dir, { recursive: true, force: true })
    },
    stopSync: () => rmSync(dir, { recursive: true, force: true }),
  })
  if (user) await chown(dir, user.uid, user.gid)
  const port = await findFreePort()
  const serverLines = servers.map((server) => {
    const health = check
      ? ` check port ${server.checkPort} inter ${check.intervalMs ?? 500}ms fall 1 rise 1`
      : ''
    const limit = server.maxconn === undefined ? '' : ` maxconn ${server.maxconn}`
    return `  server ${server.name} ${server.host}:${server.port}${limit}${health}`
  })
  const config = [
    '# Written by @pgroute/cluster',
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 1h',
    '  timeout server 1h',
    'listen postgres',
    `  bind ${loopback}:${port}`,
    `  balance ${balance}`,
    ...(check
      ? [
          `  option httpchk GET ${check.path}`,
          '  http-check expect status 200',
          // Connections to a server that fails its check are cut, as Patroni's documentation configures it.
          '  default-server on-marked-down shutdown-sessions',
        ]
      : []),
    ...serverLines,
    '',
  ].join('\n')
  const file = path.join(dir, 'haproxy.cfg')
  await writeFile(file, config, { mode: 0o600 })
  if (user) await chown(file, user.uid, user.gid)
  try {
    helper = await HelperProcess.start({
      name: 'haproxy',
      command: binary,
      args: ['-f', file, '-db'],
      user,
      port,
      timeoutMs: options.startTimeoutMs ?? 20_000,
    })
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    untrack()
    throw error
  }
  return {
    host: loopback,
    port,
    urlFor(url) {
      const parsed = new URL(url)
      parsed.hostname = loopback
      parsed.port = String(port)
      return parsed.toString()
    },
    async stop() {
      await helper?.stop()
      await rm(dir, { recursive: true, force: true })
      untrack()
    },
  }
}
