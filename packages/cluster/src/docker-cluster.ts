import { BaseCluster } from './base-cluster.js'
import { ClusterError } from './cluster-error.js'
import type { ClusterStopOptions } from './cluster-options.js'
import { containerDataDir, containerPort, DockerNode } from './docker-node.js'
import { throwIfAborted } from './poll.js'
import { waitForStreaming } from './replication-status.js'
import type { ResolvedClusterOptions } from './resolve-options.js'
import { clusterSettings, confQuote, conninfo } from './server-config.js'

type Testcontainers = typeof import('testcontainers')
type StartedNetwork = import('testcontainers').StartedNetwork

/** A cluster of containers on one Docker network; see `startCluster({ backend: 'docker' })`. */
class DockerCluster extends BaseCluster {
  readonly backend = 'docker'
  readonly #network: StartedNetwork

  constructor(nodes: readonly DockerNode[], network: StartedNetwork, options: ResolvedClusterOptions) {
    super(nodes, options)
    this.#network = network
  }

  protected override async stopNodes(_options: ClusterStopOptions): Promise<void> {
    await Promise.allSettled(
      this.nodeList.map((node) => (node as DockerNode).container.stop({ remove: true })),
    )
    await this.#network.stop()
  }
}

/**
 * Starts the cluster as containers (image `options.image`) with testcontainers: a primary, then replicas seeded with
 * `pg_basebackup --create-slot`, all on one network. Containers are removed by `stop()`, or by testcontainers'
 * reaper if this process dies. Needs the optional peer dependency `testcontainers` and a reachable Docker engine.
 */
export async function startDockerCluster(options: ResolvedClusterOptions): Promise<DockerCluster> {
  const tc = await loadTestcontainers()
  let network: StartedNetwork
  try {
    network = await new tc.Network().start()
  } catch (cause) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_DOCKER_UNAVAILABLE',
      'The docker backend found no reachable Docker engine (testcontainers could not connect to one)',
      { cause, option: 'backend' },
    )
  }
  const started: DockerNode[] = []
  const credentials = { user: options.user, password: options.password, database: options.database }
  try {
    throwIfAborted(options.signal)
    const settings = clusterSettings(options.replicas.length, options.postgresConfig)
    const flags = Object.entries(settings)
      .filter(([name]) => !['listen_addresses', 'unix_socket_directories'].includes(name))
      .flatMap(([name, value]) => ['-c', `${name}=${value}`])
    const ready = tc.Wait.forSuccessfulCommand(
      `pg_isready -h 127.0.0.1 -p ${containerPort} -U ${options.user}`,
    )
    const primaryContainer = await new tc.GenericContainer(options.image)
      .withNetwork(network)
      .withNetworkAliases('primary')
      .withEnvironment({
        POSTGRES_USER: options.user,
        POSTGRES_PASSWORD: options.password,
        POSTGRES_DB: options.database,
        PGDATA: containerDataDir,
      })
      .withCopyContentToContainer([
        {
          content: 'echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"\n',
          target: '/docker-entrypoint-initdb.d/10-replication.sh',
          mode: 0o755,
        },
      ])
      .withCommand(['postgres', ...flags])
      .withExposedPorts(containerPort)
      .withWaitStrategy(ready)
      .withStartupTimeout(options.startTimeoutMs)
      .start()
    const primary = new DockerNode('primary', 'primary', primaryContainer, credentials)
    started.push(primary)
    options.log({
      source: 'cluster',
      node: 'primary',
      message: `container ${primaryContainer.getId()} ready`,
    })

    const replicas = await Promise.all(
      options.replicas.map(async (replica) => {
        const primaryConninfo = conninfo({
          host: 'primary',
          port: String(containerPort),
          user: options.user,
          password: options.password,
          application_name: replica.name,
        })
        const extraConf = [
          `primary_conninfo = ${confQuote(primaryConninfo)}`,
          `recovery_min_apply_delay = '${replica.applyDelayMs}ms'`,
        ].join('\n')
        // Seeds the data directory on first start only; a restarted container keeps it.
        const script = [
          'set -e',
          'if [ ! -s "$PGDATA/PG_VERSION" ]; then',
          `  pg_basebackup -h primary -p ${containerPort} -D "$PGDATA" -X stream -R --create-slot --slot "$SLOT"`,
          `  printf '%s\\n' "$EXTRA_CONF" >> "$PGDATA/postgresql.auto.conf"`,
          'fi',
          `exec postgres -D "$PGDATA" ${flags.map(shellQuote).join(' ')}`,
        ].join('\n')
        const container = await new tc.GenericContainer(options.image)
          .withNetwork(network)
          .withNetworkAliases(replica.name)
          .withUser('postgres')
          .withEnvironment({
            PGDATA: containerDataDir,
            PGUSER: options.user,
            PGPASSWORD: options.password,
            SLOT: replica.slot,
            EXTRA_CONF: extraConf,
          })
          .withEntrypoint(['bash', '-c', script])
          .withExposedPorts(containerPort)
          .withWaitStrategy(ready)
          .withStartupTimeout(options.startTimeoutMs)
          .start()
        const node = new DockerNode(replica.name, 'replica', container, credentials)
        node.upstream = primary
        node.applyDelayMs = replica.applyDelayMs
        node.synchronous = replica.synchronous
        started.push(node)
        return node
      }),
    )
    const cluster = new DockerCluster([primary, ...replicas], network, options)
    primary.synchronousStandbys = replicas.filter((node) => node.synchronous).map((node) => node.name)
    if (primary.synchronousStandbys.length > 0) await primary.reconfigure()
    await waitForStreaming(
      primary,
      replicas.map((node) => node.name),
      { timeoutMs: options.startTimeoutMs, signal: options.signal },
    )
    return cluster
  } catch (error) {
    await Promise.allSettled(started.map((node) => node.container.stop({ remove: true })))
    await network.stop().catch(() => {})
    throw error
  }
}

async function loadTestcontainers(): Promise<Testcontainers> {
  try {
    return await import('testcontainers')
  } catch (cause) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_DOCKER_UNAVAILABLE',
      'The docker backend needs the optional peer dependency testcontainers (npm install --save-dev testcontainers)',
      { cause, option: 'backend' },
    )
  }
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}
