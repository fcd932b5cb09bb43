import type { StartedTestContainer } from 'testcontainers'
import { BaseNode, type Credentials } from './base-node.js'
import { ClusterError } from './cluster-error.js'
import type { NodeRole } from './cluster-node.js'
import type { NodeStopOptions } from './cluster-options.js'
import { conninfo } from './server-config.js'
import { withClient } from './sql-client.js'

/** Port PostgreSQL listens on inside its container. */
export const containerPort = 5432

/** Data directory inside every container. */
export const containerDataDir = '/var/lib/postgresql/pgroute'

/** A server in a Docker container, reachable from the host through a mapped port. */
export class DockerNode extends BaseNode {
  readonly controllable = true
  readonly #container: StartedTestContainer
  #running = true

  constructor(name: string, role: NodeRole, container: StartedTestContainer, credentials: Credentials) {
    super(name, role, credentials)
    this.#container = container
  }

  get host(): string {
    return this.#container.getHost()
  }

  /** The mapped host port; Docker may pick a new one when the container restarts. */
  get port(): number {
    return this.#container.getMappedPort(containerPort)
  }

  override get running(): boolean {
    return this.#running
  }

  /** Other containers reach this one by its network alias (the node name). */
  override get replicationAddress(): { host: string; port: number } {
    return { host: this.name, port: containerPort }
  }

  /** The container, for the cluster's cleanup. */
  get container(): StartedTestContainer {
    return this.#container
  }

  /**
   * Stops PostgreSQL with `pg_ctl stop -m <mode>`; the container stops with it (postgres is its main process) and
   * is kept for {@link start}.
   */
  override async stop(options: NodeStopOptions = {}): Promise<void> {
    if (!this.#running) return
    // The exec may end with an error because its container stops underneath it; the restart in start() tells.
    await this.#container
      .exec(['pg_ctl', 'stop', '-D', containerDataDir, '-m', options.mode ?? 'fast', '-w'], {
        user: 'postgres',
      })
      .catch(() => {})
    this.#running = false
  }

  /** Starts the stopped container again and waits until PostgreSQL accepts connections. */
  override async start(): Promise<void> {
    this.assertClusterOpen('start()')
    if (this.#running) return
    await this.#container.restart()
    this.#running = true
    this.replayPaused = false
  }

  /** Applies the node's state with `ALTER SYSTEM` and `pg_reload_conf()`; the server must be running. */
  override async reconfigure(): Promise<void> {
    if (!this.#running) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_INVALID_STATE',
        `${this.name} is stopped; the Docker backend reconfigures running servers only`,
        { node: this.name },
      )
    }
    await withClient(this.connectionConfig, async (client) => {
      const set = (name: string, value: string) =>
        client.query(`ALTER SYSTEM SET ${name} = ${client.escapeLiteral(value)}`)
      const upstream = this.upstream
      if (this.role === 'replica' && upstream) {
        const { user, password } = this.credentials
        const { host, port } = upstream.replicationAddress
        await set(
          'primary_conninfo',
          conninfo({ host, port: String(port), user, password, application_name: this.name }),
        )
        await set('primary_slot_name', this.slot)
        await set('recovery_min_apply_delay', `${this.applyDelayMs}ms`)
      } else if (this.synchronousStandbys.length > 0) {
        const names = this.synchronousStandbys.map((name) => `"${name}"`).join(', ')
        await set('synchronous_standby_names', `FIRST ${this.synchronousStandbys.length} (${names})`)
      } else {
        await client.query('ALTER SYSTEM RESET synchronous_standby_names')
      }
      await client.query('SELECT pg_reload_conf()')
    })
  }
}
