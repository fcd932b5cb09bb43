/**
 * A 1 + 2 Patroni cluster on loopback as a chaos environment: etcd, three Patroni nodes with Debian's PostgreSQL
 * (which has the pg_basebackup and pg_rewind Patroni needs), all stopped and removed by `stop()`.
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { ChaosEnvironment, ChaosNode } from './chaos-environment.js'
import {
  freePort,
  onPath,
  postgresBinDir,
  type RunAs,
  runTool,
  serverAccount,
  spawnLogged,
  stopOrphanPostmaster,
  terminate,
} from './patroni-processes.js'

const nodeNames = ['node1', 'node2', 'node3'] as const
const startLimitMs = 90_000

/** Why a Patroni cluster cannot run here, or undefined when it can. */
/** Runs one statement on a connection of its own to `config`, closed after. */
export async function queryOnce(
  config: pg.ClientConfig,
  sql: string,
  params?: unknown[],
): Promise<pg.QueryResult> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 5000 })
  client.on('error', () => {})
  await client.connect()
  try {
    return await client.query(sql, params)
  } finally {
    await client.end().catch(() => {})
  }
}

export function patroniUnavailable(): string | undefined {
  const missing = ['patroni', 'patronictl', 'etcd'].filter((command) => !onPath(command))
  if (missing.length > 0) {
    return `${missing.join(', ')} not installed (Debian: apt-get install patroni etcd-server postgresql)`
  }
  if (!postgresBinDir()) return 'no PostgreSQL with pg_basebackup and pg_rewind under /usr/lib/postgresql'
  return undefined
}

/** The Patroni cluster: a chaos environment that can also fail over through `patronictl`. */
export interface PatroniEnvironment extends ChaosEnvironment {
  /** `patronictl failover --candidate <candidate> --force`; resolves to its output once Patroni reports it done. */
  failover(candidate: string): Promise<string>
  /**
   * `patronictl switchover --leader <leader> --candidate <candidate> --force` (a planned switchover: the leader is
   * stopped cleanly first); resolves to its output once Patroni reports it done.
   */
  switchover(leader: string, candidate: string): Promise<string>
}

/** Whether `env` is a {@link PatroniEnvironment}. */
export function isPatroniEnvironment(env: ChaosEnvironment): env is PatroniEnvironment {
  return typeof (env as Partial<PatroniEnvironment>).failover === 'function'
}

/** One Patroni member. */
interface PatroniNode extends ChaosNode {
  readonly apiPort: number
  readonly configFile: string
  readonly dataDir: string
  process?: ChildProcess
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** HTTP status of a Patroni REST endpoint, 0 when unreachable. */
async function restStatus(node: PatroniNode, endpoint: string): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${node.apiPort}/${endpoint}`, {
      signal: AbortSignal.timeout(2000),
    })
    await response.body?.cancel()
    return response.status
  } catch {
    return 0
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, logDir: string): Promise<void> {
  const deadline = performance.now() + startLimitMs
  while (!(await check())) {
    if (performance.now() > deadline)
      throw new Error(`Patroni cluster: ${what} timed out (logs in ${logDir})`)
    await sleep(250)
  }
}

function nodeConfig(node: PatroniNode, etcdPort: number, dir: string, password: string, binDir: string) {
  return {
    scope: 'pgroute-chaos',
    name: node.name,
    restapi: { listen: `127.0.0.1:${node.apiPort}`, connect_address: `127.0.0.1:${node.apiPort}` },
    etcd3: { hosts: `127.0.0.1:${etcdPort}` },
    bootstrap: {
      dcs: {
        ttl: 15,
        loop_wait: 2,
        retry_timeout: 5,
        maximum_lag_on_failover: 16 * 1024 * 1024,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: { wal_level: 'replica', hot_standby: 'on', wal_log_hints: 'on', max_wal_senders: 10 },
        },
      },
      initdb: [{ encoding: 'UTF8' }],
      pg_hba: [
        'host replication replicator 127.0.0.1/32 scram-sha-256',
        'host all all 127.0.0.1/32 scram-sha-256',
      ],
    },
    postgresql: {
      listen: `127.0.0.1:${node.port}`,
      connect_address: `127.0.0.1:${node.port}`,
      data_dir: node.dataDir,
      bin_dir: binDir,
      pgpass: path.join(dir, `pgpass-${node.name}`),
      authentication: {
        superuser: { username: 'postgres', password },
        replication: { username: 'replicator', password },
        rewind: { username: 'rewinder', password },
      },
      parameters: { unix_socket_directories: dir, max_connections: 60, fsync: 'off' },
    },
  }
}

/** Starts etcd and three Patroni nodes; node1 bootstraps and leads, node2 and node3 follow it. */
export async function patroniEnvironment(): Promise<PatroniEnvironment> {
  const binDir = postgresBinDir()!
  const runAs = serverAccount()
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgroute-patroni-'))
  await fs.chmod(dir, 0o755)
  if (runAs) await fs.chown(dir, runAs.uid, runAs.gid)
  const password = randomBytes(12).toString('hex')
  const [etcdPort, peerPort] = [await freePort(), await freePort()]
  const nodes: PatroniNode[] = []
  for (const name of nodeNames) nodes.push(await patroniNode(name, dir, password))
  const processes: ChildProcess[] = []
  const env = environment(nodes, processes, dir, runAs)
  try {
    const etcd = spawnLogged(
      'etcd',
      [
        `--name=chaos`,
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=chaos=http://127.0.0.1:${peerPort}`,
      ],
      path.join(dir, 'etcd.log'),
      runAs,
    )
    processes.push(etcd)
    for (const node of nodes) {
      const config = nodeConfig(node, etcdPort, dir, password, binDir)
      await fs.writeFile(node.configFile, JSON.stringify(config, null, 2)) // JSON is YAML.
      if (runAs) await fs.chown(node.configFile, runAs.uid, runAs.gid)
    }
    const start = (node: PatroniNode) => {
      node.process = spawnLogged('patroni', [node.configFile], path.join(dir, `${node.name}.log`), runAs)
      processes.push(node.process)
    }
    start(nodes[0]!)
    await waitFor('node1 leading', async () => (await restStatus(nodes[0]!, 'primary')) === 200, dir)
    for (const node of nodes.slice(1)) start(node)
    for (const node of nodes.slice(1)) {
      await waitFor(`${node.name} replicating`, async () => (await restStatus(node, 'replica')) === 200, dir)
    }
    return env
  } catch (error) {
    await env.stop()
    throw error
  }
}

async function patroniNode(name: string, dir: string, password: string): Promise<PatroniNode> {
  const port = await freePort()
  const connectionConfig = { host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' }
  return {
    name,
    port,
    apiPort: await freePort(),
    configFile: path.join(dir, `${name}.yml`),
    dataDir: path.join(dir, name),
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    connectionConfig,
    running: true,
    query: (sql: string, params?: unknown[]) => queryOnce(connectionConfig, sql, params),
  } as PatroniNode
}

function environment(
  nodes: PatroniNode[],
  processes: ChildProcess[],
  dir: string,
  runAs: RunAs | undefined,
): PatroniEnvironment {
  const [primary, ...replicas] = nodes as [PatroniNode, ...PatroniNode[]]
  return {
    nodes,
    primary,
    replicas,
    async currentPrimary() {
      for (;;) {
        for (const node of nodes) if ((await restStatus(node, 'primary')) === 200) return node
        await sleep(250)
      }
    },
    async settle() {
      const leader = await this.currentPrimary()
      const { rows } = await leader.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
      for (const node of nodes.filter((other) => other !== leader)) {
        await waitFor(
          `${node.name} catching up`,
          async () =>
            (
              await node.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [
                rows[0]!.lsn,
              ])
            ).rows[0]!.ok,
          dir,
        )
      }
    },
    failover: (candidate) =>
      runTool(
        'patronictl',
        ['-c', primary.configFile, 'failover', '--candidate', candidate, '--force'],
        runAs,
      ),
    switchover: (leader, candidate) =>
      runTool(
        'patronictl',
        ['-c', primary.configFile, 'switchover', '--leader', leader, '--candidate', candidate, '--force'],
        runAs,
      ),
    async stop() {
      // Patroni stops its PostgreSQL on SIGTERM; etcd goes last, since Patroni needs it to shut down cleanly.
      await Promise.all(processes.slice(1).map((child) => terminate(child)))
      for (const node of nodes) stopOrphanPostmaster(node.dataDir)
      if (processes[0]) await terminate(processes[0])
      await fs.rm(dir, { recursive: true, force: true })
    },
  }
}
