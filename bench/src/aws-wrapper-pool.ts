/**
 * The AWS Advanced NodeJS Wrapper (npm `aws-advanced-nodejs-wrapper`) set up for read/write splitting on a plain
 * PostgreSQL primary and replica, for the `peers` bench.
 *
 * Its `readWriteSplitting` plugin moves one `AwsPGClient` between a writer and a reader connection on
 * `setReadOnly(true | false)`; its documentation says the plugin is "not currently supported for non-Aurora
 * clusters", because it finds readers through Aurora's topology. Given a multi-host `postgres://` URL with
 * `singleWriterConnectionString: true`, its connection-string host list names the first host the writer and the
 * others readers, and the plugin then does switch to the replica: that is how it runs here (checked on close:
 * reads must have been answered by a server in recovery). Only that plugin is loaded (the default set, failover
 * and host monitoring, needs Aurora's topology), `wrapperDialect: 'pg'`.
 *
 * The wrapper has no pool that splits: `AwsPGClient` is one connection pair. So the bench holds as many clients as
 * the other contenders' pools hold connections (10) and hands them to its callers in turn; a client's mode is
 * switched only when the next statement needs the other one (`SET SESSION CHARACTERISTICS AS TRANSACTION READ
 * ONLY/WRITE`, one round trip, which is how the plugin learns it), so read-only callers never pay it.
 */
import type { QueryResult } from 'pg'

/** The part of `AwsPGClient` this pool uses. */
interface AwsClient {
  connect(): Promise<void>
  setReadOnly(readOnly: boolean): Promise<unknown>
  query(text: string, values: unknown[]): Promise<QueryResult>
  end(): Promise<void>
}

/** Where the clients connect. */
export interface AwsWrapperTarget {
  readonly primary: { readonly host: string; readonly port: number }
  readonly replica: { readonly host: string; readonly port: number }
  readonly user: string
  readonly password: string
  readonly database: string
}

/** Why the wrapper cannot be loaded here, or `undefined` when it can. */
export async function awsWrapperUnavailable(): Promise<string | undefined> {
  try {
    await import('aws-advanced-nodejs-wrapper/pg')
    return undefined
  } catch (error) {
    return `aws-advanced-nodejs-wrapper cannot be loaded (${error instanceof Error ? error.message : String(error)})`
  }
}

/** `size` wrapper clients shared by callers: each statement takes one, switching its mode if needed. */
export class AwsWrapperPool {
  readonly #idle: AwsClient[]
  readonly #all: readonly AwsClient[]
  readonly #readOnly = new Map<AwsClient, boolean>()
  readonly #waiting: Array<(client: AwsClient) => void> = []

  private constructor(clients: AwsClient[]) {
    this.#all = clients
    this.#idle = [...clients]
    for (const client of clients) this.#readOnly.set(client, false)
  }

  /** Connects `size` clients (each to the writer first, as the wrapper does). */
  static async connect(target: AwsWrapperTarget, size: number): Promise<AwsWrapperPool> {
    const { AwsPGClient } = await import('aws-advanced-nodejs-wrapper/pg')
    const hosts = `${target.primary.host}:${target.primary.port},${target.replica.host}:${target.replica.port}`
    const clients: AwsClient[] = []
    try {
      for (let i = 0; i < size; i++) {
        const client = new AwsPGClient({
          host: `postgres://${hosts}/${target.database}`,
          port: target.primary.port,
          user: target.user,
          password: target.password,
          database: target.database,
          plugins: 'readWriteSplitting',
          singleWriterConnectionString: true,
          wrapperDialect: 'pg',
        }) as unknown as AwsClient
        clients.push(client)
        await client.connect()
      }
    } catch (error) {
      await Promise.allSettled(clients.map((client) => client.end()))
      throw error
    }
    return new AwsWrapperPool(clients)
  }

  /** Runs one statement on a free client, in read-only mode for reads (on the replica) or not (the primary). */
  async query(readOnly: boolean, text: string, values: unknown[]): Promise<QueryResult> {
    const client =
      this.#idle.pop() ?? (await new Promise<AwsClient>((resolve) => this.#waiting.push(resolve)))
    try {
      if (this.#readOnly.get(client) !== readOnly) {
        await client.setReadOnly(readOnly)
        this.#readOnly.set(client, readOnly)
      }
      return await client.query(text, values)
    } finally {
      const next = this.#waiting.shift()
      if (next) next(client)
      else this.#idle.push(client)
    }
  }

  /**
   * Closes every client (its writer and reader connections), then releases what the wrapper keeps process-wide
   * (`PluginManager.releaseResources()`, as its documentation asks): its caches hold timers that would keep the
   * process alive.
   */
  async end(): Promise<void> {
    await Promise.allSettled(this.#all.map((client) => client.end()))
    // `PluginManager` comes from the package's main entry, which loads the AWS SDK; the `pg` entry's own copy:
    const pgEntry = import.meta.resolve('aws-advanced-nodejs-wrapper/pg')
    const { PluginManager } = await import(new URL('./common/lib/plugin_manager.js', pgEntry).href)
    await PluginManager.releaseResources()
  }
}
