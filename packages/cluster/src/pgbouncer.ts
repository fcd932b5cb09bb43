import { rmSync } from 'node:fs'
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { QueryResult, QueryResultRow } from 'pg'
import { ClusterError, invalidOption } from './cluster-error.js'
import type { Cluster, ClusterNode, NodeConnectionConfig } from './cluster-node.js'
import { findFreePort, loopback } from './free-port.js'
import { HelperProcess } from './helper-process.js'
import { trackForCleanup } from './process-cleanup.js'
import { serverUser } from './server-user.js'
import { queryOnce } from './sql-client.js'
import { systemBinary, systemBinaryMissing } from './system-binary.js'

/** PgBouncer's `pool_mode`: a server connection per client connection, or per transaction. */
export type PoolMode = 'session' | 'transaction'

/** Options of {@link startPgBouncer}. */
export interface PgBouncerOptions {
  /** `pool_mode`. Default `'transaction'`. */
  readonly poolMode?: PoolMode
  /**
   * Further `[pgbouncer]` settings, e.g. `{ default_pool_size: 5 }`. None by default: every other setting keeps
   * PgBouncer's own default (`ignore_startup_parameters` empty, `default_pool_size` 20, `server_reset_query`
   * `DISCARD ALL` used in session mode only, `server_round_robin` 0: the most recently used idle server connection is
   * handed out next).
   */
  readonly settings?: Readonly<Record<string, string | number>>
  /** Time limit for every PgBouncer to listen. Default 20000 ms. */
  readonly startTimeoutMs?: number
  /** Receives PgBouncer's log lines. */
  readonly log?: (entry: { readonly node: string; readonly message: string }) => void
}

/** A server PgBouncer can be put in front of: a node of a {@link Cluster}, or any server with a URL. */
export type PgBouncerTarget = Pick<ClusterNode, 'name' | 'url' | 'connectionConfig'>

/** A node of the cluster as reached through its PgBouncer. */
export interface PooledNode {
  /** The name of the node behind it, e.g. `replica-1`. */
  readonly name: string
  /** The server behind it. */
  readonly node: PgBouncerTarget
  readonly host: string
  /** PgBouncer's port. */
  readonly port: number
  /** The node's URL with PgBouncer's address: same user, password and database. */
  readonly url: string
  readonly connectionConfig: NodeConnectionConfig
  /** PgBouncer's pid. */
  readonly pid: number
  /** Runs one statement through PgBouncer on a short-lived connection. */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>
}

/** One PgBouncer per node of a cluster; see {@link startPgBouncer}. */
export interface PgBouncerFleet {
  readonly poolMode: PoolMode
  /** One entry per node of the cluster, in the cluster's order. */
  readonly nodes: readonly PooledNode[]
  /** The entry of the node named `name`. */
  node(name: string): PooledNode
  /** Stops every PgBouncer and removes its configuration; resolves when the processes have exited. */
  stop(): Promise<void>
}

/** Why PgBouncer cannot run here, or `undefined` when it can: the reason tests that need it skip with. */
export function pgbouncerUnavailable(): string | undefined {
  return systemBinaryMissing('pgbouncer')
}

/**
 * Puts a PgBouncer (the system's `pgbouncer` binary, e.g. Debian's package) in front of every node of `cluster`,
 * each on a loopback port of its own with one wildcard database entry (`* = host=<node> port=<node>`, so every
 * database of the node is reachable, the URLs' included) and otherwise PgBouncer's default settings. Clients log in
 * with the node's user and password (`auth_type = scram-sha-256`, or `trust` when the node's URL has no password);
 * PgBouncer logs in to the server with the same. The PgBouncers run as the servers' account, in a temporary
 * directory removed by `stop()`, and are stopped when this process exits.
 *
 * @example
 * ```ts
 * const bouncers = await startPgBouncer(cluster, { poolMode: 'transaction' })
 * const router = createRouter({
 *   primary: bouncers.node('primary').url,
 *   replicas: cluster.replicas.map((replica) => bouncers.node(replica.name).url),
 * })
 * // ...
 * await bouncers.stop()
 * ```
 */
export async function startPgBouncer(
  cluster: { readonly nodes: readonly PgBouncerTarget[] },
  options: PgBouncerOptions = {},
): Promise<PgBouncerFleet> {
  const poolMode = options.poolMode ?? 'transaction'
  if (poolMode !== 'session' && poolMode !== 'transaction') {
    throw invalidOption('poolMode', `expected 'session' or 'transaction', got ${JSON.stringify(poolMode)}`)
  }
  const startTimeoutMs = options.startTimeoutMs ?? 20_000
  const binary = systemBinary('pgbouncer')
  if (!binary) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_BINARIES_NOT_FOUND',
      pgbouncerUnavailable() ?? 'pgbouncer not found',
    )
  }
  const user = serverUser()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgroute-pgbouncer-'))
  if (user) await chown(dir, user.uid, user.gid)
  const nodes: PooledNode[] = []
  const processes: HelperProcess[] = []
  const stop = async () => {
    await Promise.all(processes.map((helper) => helper.stop()))
    await rm(dir, { recursive: true, force: true })
    untrack()
  }
  // The processes stop themselves when this process exits (see HelperProcess); the directory goes with them.
  const untrack = trackForCleanup({ stop, stopSync: () => rmSync(dir, { recursive: true, force: true }) })
  try {
    for (const node of cluster.nodes) {
      const { user: role, password, database } = node.connectionConfig
      const { serverTls, clientUrl } = splitTls(node)
      const port = await findFreePort()
      const files = {
        config: path.join(dir, `${node.name}.ini`),
        users: path.join(dir, `${node.name}.users`),
      }
      await writeOwned(files.users, `${quote(role)} ${quote(password)}\n`, user)
      const settings: Record<string, string | number> = {
        listen_addr: loopback,
        listen_port: port,
        unix_socket_dir: '',
        auth_type: password === '' ? 'trust' : 'scram-sha-256',
        auth_file: files.users,
        pool_mode: poolMode,
        ...serverTls,
        ...options.settings,
      }
      const ini = [
        '; Written by @pgroute/cluster',
        '[databases]',
        `* = host=${node.connectionConfig.host} port=${node.connectionConfig.port}`,
        '[pgbouncer]',
        ...Object.entries(settings).map(([name, value]) => `${name} = ${value}`),
        '',
      ].join('\n')
      await writeOwned(files.config, ini, user)
      const helper = await HelperProcess.start({
        name: `pgbouncer for ${node.name}`,
        command: binary,
        args: [files.config],
        user,
        port,
        timeoutMs: startTimeoutMs,
        ...(options.log ? { log: (message: string) => options.log?.({ node: node.name, message }) } : {}),
      })
      processes.push(helper)
      const url = clientUrl
      url.hostname = loopback
      url.port = String(port)
      const connectionConfig = { host: loopback, port, user: role, password, database }
      nodes.push({
        name: node.name,
        node,
        host: loopback,
        port,
        url: url.toString(),
        connectionConfig,
        pid: helper.pid,
        query: (sql, params) => queryOnce(connectionConfig, sql, params),
      })
    }
  } catch (error) {
    await stop()
    throw error
  }
  return {
    poolMode,
    nodes,
    node(name) {
      const found = nodes.find((node) => node.name === name)
      if (!found)
        throw new ClusterError('PGROUTE_CLUSTER_INVALID_STATE', `No PgBouncer for a node named '${name}'`)
      return found
    },
    stop,
  }
}

/** libpq's `sslmode` values as PgBouncer's `server_tls_sslmode` takes them (pg's `no-verify` is libpq's `require`). */
const serverSslModes: Record<string, string> = {
  disable: 'disable',
  allow: 'allow',
  prefer: 'prefer',
  require: 'require',
  'no-verify': 'require',
  'verify-ca': 'verify-ca',
  'verify-full': 'verify-full',
}

/**
 * The TLS a node's URL asks for, as PgBouncer's settings for its connections to the server (`server_tls_sslmode`,
 * `server_tls_ca_file`), and the URL clients use to reach PgBouncer: the same without the TLS parameters, since
 * clients talk to PgBouncer over loopback without TLS. Client certificates are not passed on.
 */
function splitTls(node: PgBouncerTarget): { serverTls: Record<string, string>; clientUrl: URL } {
  const clientUrl = new URL(node.url)
  const parameters = clientUrl.searchParams
  if (parameters.has('sslcert') || parameters.has('sslkey')) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_NOT_SUPPORTED',
      `startPgBouncer(): ${node.name} logs in with a client certificate; PgBouncer in front of it is not supported`,
      { node: node.name },
    )
  }
  const serverTls: Record<string, string> = {}
  const mode = parameters.get('sslmode')
  if (mode !== null) {
    const serverMode = serverSslModes[mode]
    if (!serverMode) throw invalidOption(`${node.name} sslmode`, `unknown sslmode ${JSON.stringify(mode)}`)
    serverTls.server_tls_sslmode = serverMode
  }
  const rootCert = parameters.get('sslrootcert')
  if (rootCert !== null) serverTls.server_tls_ca_file = rootCert
  for (const name of ['sslmode', 'sslrootcert', 'uselibpqcompat']) parameters.delete(name)
  return { serverTls, clientUrl }
}

/** A value of PgBouncer's auth file: double-quoted, inner double quotes doubled. */
function quote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`
}

async function writeOwned(file: string, content: string, user: { uid: number; gid: number } | undefined) {
  await writeFile(file, content, { mode: 0o600 })
  if (user) await chown(file, user.uid, user.gid)
}
