import pg from 'pg'
import type { NodeSpec } from '../config/resolved-options.js'
import { PgRouteError } from '../errors.js'
import { CLOSE_GRACE_MS, endClient } from '../pg-close.js'
import { attributeError } from '../pg-errors.js'
import { type ServerIdentity, toServerIdentity } from './server-identity.js'

/** What the router reads once per connection of its own: it cannot change while the connection lasts. */
export interface LinkInfo {
  /** `pg_control_system().system_identifier`; `undefined` where the role may not call it. */
  readonly systemId: string | undefined
  /** The server that answers on this connection (see `server-identity.ts`); `undefined` if it could not be read. */
  readonly server: ServerIdentity | undefined
  /** `wal_segment_size` in bytes (16 MiB unless initdb chose another). */
  readonly segmentSize: number
  /**
   * `pg_settings.source` of `synchronous_commit` on this connection, read once: a reload may change its value, not
   * whether it follows the configuration (`default`, `configuration file`) or is fixed for the connection's life.
   */
  readonly commitSource: string | undefined
  /** Functions the role may call (`EXECUTE`): `pg_ls_waldir()`, `pg_control_checkpoint()`. */
  readonly may: { readonly lsWalDir: boolean; readonly controlCheckpoint: boolean }
}

/** The size of a WAL segment unless the server says otherwise. */
export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024

/**
 * One statement, one round trip, no privilege needed. PostgreSQL checks the privilege of every function a statement
 * names when it starts, called or not (a `CASE` does not help): functions that need one are asked for apart, or
 * named only where the role may call them.
 */
const LINK_INFO_SQL = `SELECT host(inet_server_addr()) AS address, inet_server_port() AS port,
  pg_postmaster_start_time()::text AS started_at,
  (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segment_size,
  (SELECT source FROM pg_settings WHERE name = 'synchronous_commit') AS commit_source,
  has_function_privilege('pg_control_system()', 'EXECUTE') AS control_system,
  has_function_privilege('pg_control_checkpoint()', 'EXECUTE') AS control_checkpoint,
  has_function_privilege('pg_ls_waldir()', 'EXECUTE') AS ls_wal_dir`

const SYSTEM_ID_SQL = 'SELECT system_identifier::text AS system_id FROM pg_control_system()'

interface LinkInfoRow {
  address: string | null
  port: number | null
  started_at: string
  segment_size: string | null
  commit_source: string | null
  control_system: boolean
  control_checkpoint: boolean
  ls_wal_dir: boolean
}

const NOTHING_KNOWN: LinkInfo = Object.freeze({
  systemId: undefined,
  server: undefined,
  segmentSize: DEFAULT_SEGMENT_SIZE,
  commitSource: undefined,
  may: Object.freeze({ lsWalDir: false, controlCheckpoint: false }),
})

/** Options of a {@link NodeLink}. */
export interface NodeLinkOptions {
  /** Bound of a login (the connection's own `connectionTimeoutMillis`). */
  readonly connectTimeoutMs: number
  /**
   * Told of every connection the link opens, with what it read on it; the function it returns (if any) is called
   * when that connection closes.
   */
  readonly onConnect?: (info: LinkInfo) => (() => void) | undefined
}

/** One piece of work on the link: it gets the connection, and whether it was kept from earlier work. */
export type LinkWork<T> = (client: pg.Client, kept: boolean) => Promise<T>

/**
 * The router's own connection to one node, shared by the health probes and the router's own statements
 * (read-your-writes WAL positions): one connection per node and router, whatever it needs from the node. Never a
 * connection of the application's pool, so a saturated or pinned pool cannot stall the router, and the router never
 * takes a connection an application is waiting for.
 *
 * Work runs one piece at a time, in order; each piece is bounded from the moment it is queued (a probe waiting
 * behind a position lookup waits at most one round trip, and a node that answers neither fails both). A piece that
 * runs out of time drops the connection (the server then ends what ran on it); the next piece opens a new one. The
 * connection sends no startup parameter a pooler could refuse and leaves no session state: limits are `SET LOCAL`
 * inside the work's own transaction, or enforced here.
 */
export class NodeLink {
  readonly #spec: NodeSpec
  readonly #options: NodeLinkOptions
  #client: pg.Client | undefined
  /** A connection being opened: dropped too when the work it is opened for runs out of time. */
  #pending: pg.Client | undefined
  #info: LinkInfo | undefined
  #opened = 0
  /** Called when the current connection closes (its sighting ends). */
  #onClosed: (() => void) | undefined
  /** The piece of work queued last: the next one starts after it settles. */
  #tail: Promise<unknown> = Promise.resolve()
  #queued = 0
  #closed = false

  constructor(spec: NodeSpec, options: NodeLinkOptions) {
    this.#spec = spec
    this.#options = options
  }

  /** What was read on the current connection (`undefined` while none is open). */
  get info(): LinkInfo | undefined {
    return this.#info
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.#client !== undefined
  }

  /** When the current connection was opened (`Date.now()`; 0 while none is open). */
  get openedAt(): number {
    return this.#client === undefined ? 0 : this.#opened
  }

  /**
   * Runs `work` once the work queued before it has settled, failing with a timeout `timeoutMs` after this call
   * (the connection is then dropped if `work` had started). With `retryKept`, work that fails on a connection kept
   * from earlier work is tried once more on a new one, within the same bound: a kept connection closed while it
   * idled (`idle_session_timeout`, a load balancer's reset, `pg_terminate_backend`) says nothing of the node.
   */
  run<T>(work: LinkWork<T>, timeoutMs: number, what: string, retryKept = false): Promise<T> {
    const state = { over: false, started: false }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        state.over = true
        // Work that ran out of time while running: its statement may still hold the connection.
        if (state.started) this.drop()
        reject(
          new PgRouteError(
            'PGROUTE_TIMEOUT',
            `${what} on ${this.#spec.name} timed out after ${timeoutMs} ms`,
          ),
        )
      }, timeoutMs)
      timer.unref()
    })
    this.#queued++
    const start = async (): Promise<T> => {
      if (state.over) {
        throw new PgRouteError('PGROUTE_TIMEOUT', `${what} on ${this.#spec.name} timed out while queued`)
      }
      state.started = true
      return this.#attempt(work, state, retryKept)
    }
    const run = this.#tail.then(start, start)
    this.#tail = run.then(
      () => this.#settled(),
      () => this.#settled(),
    )
    return Promise.race([run, timeout]).finally(() => clearTimeout(timer))
  }

  /** Drops the connection (the next piece of work opens a new one). */
  drop(client: pg.Client | undefined = this.#client ?? this.#pending): void {
    if (client === undefined) return
    if (client === this.#pending) this.#pending = undefined
    if (client === this.#client) {
      this.#client = undefined
      this.#info = undefined
      const closed = this.#onClosed
      this.#onClosed = undefined
      closed?.()
    }
    void endClient(client)
  }

  /** Drops the connection once the work queued so far has settled, unless more is queued by then. */
  release(): void {
    if (this.#queued === 0) this.drop()
  }

  /**
   * Closes the connection for good: work queued later fails; work queued so far may finish within
   * {@link CLOSE_GRACE_MS}, then the connection is dropped whatever runs on it.
   */
  async close(): Promise<void> {
    this.#closed = true
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS)
      timer.unref()
    })
    await Promise.race([this.#tail, grace])
    clearTimeout(timer)
    this.drop()
  }

  #settled(): void {
    this.#queued--
  }

  async #attempt<T>(work: LinkWork<T>, state: { readonly over: boolean }, retryKept: boolean): Promise<T> {
    const kept = this.#client !== undefined
    try {
      const client = await this.#connect()
      return await work(client, kept)
    } catch (error) {
      if (!kept || !retryKept || state.over || this.#closed) {
        this.#failed(error)
        throw error
      }
      this.drop()
      try {
        return await work(await this.#connect(), false)
      } catch (again) {
        this.#failed(again)
        throw again
      }
    }
  }

  /** A failure drops the connection: whatever the error, its state is no longer known. */
  #failed(error: unknown): void {
    const client = this.#client
    // Connecting, or a statement on the connection: where the error came from tells what it means.
    attributeError(error, client ?? 'connect')
    this.drop(client)
  }

  async #connect(): Promise<pg.Client> {
    if (this.#client) return this.#client
    // Work still queued when the router ends must not open a connection nobody will close.
    if (this.#closed) throw closedError(this.#spec.name)
    // No `statement_timeout` startup parameter (PgBouncer refuses unknown ones) and no session `SET` (it would
    // stay on a server connection PgBouncer shares): limits are set with `SET LOCAL`, or enforced here.
    const client = new pg.Client({
      ...this.#spec.connection,
      application_name: 'pgroute-monitor',
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      keepAlive: true,
    })
    // A dropped connection is expected when a node dies; the next piece of work reconnects.
    client.on('error', () => this.drop(client))
    this.#pending = client
    let info: LinkInfo
    try {
      await client.connect()
      info = await readInfo(client)
    } catch (error) {
      attributeError(error, 'connect')
      this.drop(client)
      throw error
    }
    // Closed, or dropped because the work ran out of time meanwhile: nobody would close it later.
    if (this.#closed || this.#pending !== client) {
      this.drop(client)
      throw closedError(this.#spec.name)
    }
    this.#pending = undefined
    this.#client = client
    this.#info = info
    this.#opened = Date.now()
    this.#onClosed = this.#options.onConnect?.(info)
    return client
  }
}

/** What {@link LINK_INFO_SQL} reads; a connection that cannot say (a pooler's admin console) still works. */
async function readInfo(client: pg.Client): Promise<LinkInfo> {
  let row: LinkInfoRow | undefined
  try {
    row = (await client.query<LinkInfoRow>(LINK_INFO_SQL)).rows[0]
  } catch {
    // A connection that cannot say still serves; one that broke fails its first statement.
  }
  if (!row) return NOTHING_KNOWN
  let systemId: string | undefined
  if (row.control_system) {
    try {
      systemId = (await client.query<{ system_id: string }>(SYSTEM_ID_SQL)).rows[0]?.system_id
    } catch {
      // Not permitted after all: the system identifier stays unknown.
    }
  }
  const size = Number(row.segment_size)
  return {
    systemId,
    server: toServerIdentity(row),
    segmentSize: Number.isFinite(size) && size > 0 ? size : DEFAULT_SEGMENT_SIZE,
    commitSource: row.commit_source ?? undefined,
    may: { lsWalDir: row.ls_wal_dir === true, controlCheckpoint: row.control_checkpoint === true },
  }
}

/** `PGROUTE_CLOSED`: the router's own connection to a node was closed (the router ended, or the node left). */
export function closedError(name: string): PgRouteError {
  return new PgRouteError('PGROUTE_CLOSED', `The router's connection to ${name} is closed`)
}
