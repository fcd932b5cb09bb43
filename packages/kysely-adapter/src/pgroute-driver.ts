import {
  CompiledQuery,
  createQueryId,
  type DatabaseConnection,
  type Driver,
  IdentifierNode,
  type PostgresCursorConstructor,
  type QueryCompiler,
  RawNode,
  type TransactionSettings,
} from 'kysely'
import { loadCursor } from './cursor-loader.js'
import { PgRouteConnection } from './pgroute-connection.js'
import { QueryTargets } from './query-targets.js'
import type { ResolvedConfig } from './resolve-config.js'

/**
 * Released connection objects kept for reuse: as many as were held at once, up to this (each is a few fields; a
 * burst of more only makes new ones again).
 */
const MAX_IDLE_CONNECTIONS = 1024

/** Options Kysely 0.29 passes to driver methods; accepted so the driver fits both 0.28 and 0.29. */
interface AbortableOptions {
  readonly signal?: AbortSignal | undefined
}

function asConnection(connection: DatabaseConnection): PgRouteConnection {
  if (!(connection instanceof PgRouteConnection)) {
    throw new TypeError('PgRouteDriver was given a connection it did not create')
  }
  return connection
}

/** `SAVEPOINT name`, `ROLLBACK TO name`, `RELEASE name`, compiled as Kysely's own PostgresDriver does. */
function savepointCommand(
  command: string,
  savepointName: string,
  compileQuery: QueryCompiler['compileQuery'],
) {
  // The name is an identifier node so the compiler quotes it like any other.
  const node = RawNode.createWithChildren([
    RawNode.createWithSql(`${command} `),
    IdentifierNode.create(savepointName),
  ])
  return compileQuery(node, createQueryId())
}

/**
 * A Kysely driver that hands out pgroute connections: each is a lazily-pinned `RoutedClient` of the router
 * (see {@link PgRouteConnection} for how its node is chosen). Created by {@link PgRouteDialect}.
 */
export class PgRouteDriver implements Driver {
  readonly #config: ResolvedConfig
  /** Where each query's tree sends it, remembered by text for SELECTs: shared by every connection. */
  readonly #targets = new QueryTargets()
  /** Released connections, reused by later checkouts (see {@link acquireConnection}). */
  readonly #idle: PgRouteConnection[] = []
  #cursor: PostgresCursorConstructor | null = null

  constructor(config: ResolvedConfig) {
    this.#config = config
  }

  async init(_options?: AbortableOptions): Promise<void> {
    this.#cursor = this.#config.cursor === undefined ? await loadCursor() : this.#config.cursor
  }

  /**
   * A connection on a client of the router (a new one, or the last checkout's reopened). No node is chosen here:
   * the connection's first statement chooses it. The connection object is one released before when there is one: Kysely's runtime driver remembers every
   * connection object it is handed (in a `WeakSet`), and a new one per query would cost it an entry per query,
   * which the garbage collector pays for; `PostgresDriver` likewise hands out one object per pg connection.
   */
  async acquireConnection(_options?: AbortableOptions): Promise<DatabaseConnection> {
    const idle = this.#idle.pop()
    if (idle?.reopen()) return idle
    const router = this.#config.router
    const connection = idle ?? new PgRouteConnection(router, this.#cursor, this.#targets)
    return connection.open(await router.connect())
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let sql = 'begin'
    if (settings.isolationLevel || settings.accessMode) {
      sql = 'start transaction'
      if (settings.isolationLevel) sql += ` isolation level ${settings.isolationLevel}`
      if (settings.accessMode) sql += ` ${settings.accessMode}`
    }
    await asConnection(connection).executeQuery(CompiledQuery.raw(sql))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await asConnection(connection).executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const pgroute = asConnection(connection)
    try {
      await pgroute.executeQuery(CompiledQuery.raw('rollback'))
    } catch (error) {
      pgroute.markBroken()
      throw error
    }
  }

  async savepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await asConnection(connection).executeQuery(savepointCommand('savepoint', savepointName, compileQuery))
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await asConnection(connection).executeQuery(savepointCommand('rollback to', savepointName, compileQuery))
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await asConnection(connection).executeQuery(savepointCommand('release', savepointName, compileQuery))
  }

  async releaseConnection(connection: DatabaseConnection, _options?: AbortableOptions): Promise<void> {
    const pgroute = asConnection(connection)
    pgroute.release()
    if (this.#idle.length < MAX_IDLE_CONNECTIONS) this.#idle.push(pgroute)
  }

  async destroy(_options?: AbortableOptions): Promise<void> {
    if (this.#config.endRouterOnDestroy) await this.#config.router.end()
  }
}
