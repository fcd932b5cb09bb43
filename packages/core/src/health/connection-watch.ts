import type pg from 'pg'
import { type ServerIdentity, type ServerSightings, toServerIdentity } from './server-identity.js'
import { type CommitLevel, commitLevelOf } from './sync-replication.js'

/**
 * Read once on every new connection of a node's pool (pg-pool's `connect` event, before the connection's first
 * statement): which server answers, and the `synchronous_commit` the connection starts with and where it comes from.
 * One round trip per connection, none per statement.
 */
const CONNECTION_SQL = `SELECT host(inet_server_addr()) AS address, inet_server_port() AS port,
  pg_postmaster_start_time()::text AS started_at,
  (SELECT json_build_array(setting, source) FROM pg_settings WHERE name = 'synchronous_commit')::text AS commit`

interface ConnectionRow {
  address: string | null
  port: number | null
  started_at: string
  commit: string | null
}

/** What the router knows of one connection of a pool. */
interface ConnectionRecord {
  /** Its `synchronous_commit` from its login; `undefined` until read, or when it cannot be known. */
  level: CommitLevel
  /** A statement that may have changed its `synchronous_commit` ran on it (or one the router could not see). */
  tainted: boolean
  /** The server told it a commit's wait for synchronous replication was cancelled (not read by a write yet). */
  warned: boolean
}

/** Every pool connection seen at its login, by the connection (pg's client): shared by every router of a pool. */
const records = new WeakMap<object, ConnectionRecord>()

/** The server that answers on each pool connection seen at its login (`undefined`: it could not be read). */
const servers = new WeakMap<object, Promise<ServerIdentity | undefined>>()

/**
 * The server that answers on `client`, a connection of a watched pool: read at its login, before its first
 * statement, so it is known (or about to be) by the time a statement is sent on it. `undefined` when the
 * connection was not seen at its login or the server could not say.
 */
export function serverOf(client: object): Promise<ServerIdentity | undefined> {
  return servers.get(client) ?? Promise.resolve(undefined)
}

/** Whether two identities name the same server (same address, port and start). */
export function sameServer(a: ServerIdentity, b: ServerIdentity): boolean {
  return a.address === b.address && a.port === b.port && a.startedAt === b.startedAt
}

/**
 * The server's notice when a commit stopped waiting for its synchronous standbys (`pg_cancel_backend`, a statement
 * timeout, or the backend terminated): the commit is acknowledged with it (SQLSTATE 01000, a WARNING), committed
 * locally and maybe not replicated.
 */
const CANCELLED_WAIT = /wait for synchronous replication/i

/**
 * How a write's commit was made, as far as the router can tell from the connection it ran on: the connection's
 * `synchronous_commit` (fixed at a value, or following the server's configuration), or `undefined` when nothing may
 * be assumed (the connection was not seen at its login, a statement that may change the setting ran on it, its
 * commit's wait was cancelled, or the write failed).
 */
export type CommitTicket = CommitLevel

/**
 * What the connection a write ran on says of its commit (see {@link CommitTicket}). Consumes the connection's
 * warning of a cancelled wait: it was given for this write, or for an earlier statement not counted as one.
 */
export function commitTicket(client: object | undefined): CommitTicket {
  if (client === undefined) return undefined
  const record = records.get(client)
  if (record === undefined) return undefined
  const warned = record.warned
  record.warned = false
  return warned || record.tainted ? undefined : record.level
}

/**
 * A statement that may change `synchronous_commit` (`SET`, `SET LOCAL`, `set_config`) ran on `client`, or
 * statements the router does not see (a transaction's body): its commits say nothing of the setting any more.
 */
export function taintConnection(client: object | undefined): void {
  if (client === undefined) return
  const record = records.get(client)
  if (record !== undefined) record.tainted = true
  else records.set(client, { level: undefined, tainted: true, warned: false })
}

/** Classifications of statements that cannot change a setting themselves (the text is not read for them). */
const PLAIN = new Set([
  'read',
  'write',
  'locking-read',
  'writable-cte',
  'select-into',
  'transaction-begin',
  'transaction-begin-read-only',
  'transaction-end',
  'transaction-control',
  'serializable',
  'explain-analyze-write',
  'copy-to-file',
  'empty',
])

/**
 * Whether a statement classified for `reason`, with text `text`, may change the session's `synchronous_commit`:
 * a `SET` / `SET LOCAL` / `RESET` naming it, or a call of `set_config` (whose first argument may be anything), alone
 * or among other statements. What a function or procedure does inside cannot be seen.
 */
export function mayChangeCommitLevel(reason: string, text: string): boolean {
  return !PLAIN.has(reason) && /synchronous_commit|set_config/i.test(text)
}

/**
 * Watches the connections of one node's pool as they log in: records the server that answers on each in the
 * node's {@link ServerSightings} (for as long as the connection lives), and each connection's `synchronous_commit`
 * and warnings (see {@link commitTicket}).
 */
export class ConnectionWatch {
  readonly #pool: pg.Pool
  readonly #sightings: ServerSightings
  readonly #connected = (client: pg.PoolClient) => void this.#watch(client)
  /** The pool's own `onConnect` hook before this watch wrapped it, and the wrapper (see the constructor). */
  readonly #hooks: HookedOptions | undefined
  readonly #previous: ConnectHook | undefined
  readonly #hook: ConnectHook | undefined

  constructor(pool: pg.Pool, sightings: ServerSightings) {
    this.#pool = pool
    this.#sightings = sightings
    // pg-pool's onConnect hook (the versions that have it have `_afterConnect`; 3.14 does) runs before a new
    // connection is handed out, so the read is the connection's first statement and nobody else's statement queues
    // behind it (pg 8 deprecates a query sent while another is queued). An older pg-pool: its `connect` event,
    // with the read queued first.
    const hooks = (pool as unknown as { options?: HookedOptions }).options
    if (
      hooks !== undefined &&
      typeof (pool as unknown as Record<string, unknown>)._afterConnect === 'function'
    ) {
      const previous = hooks.onConnect
      this.#hooks = hooks
      this.#previous = previous
      this.#hook = async (client) => {
        await this.#watch(client)
        if (previous !== undefined) await previous(client)
      }
      hooks.onConnect = this.#hook
    } else {
      pool.on('connect', this.#connected)
    }
  }

  /** Stops watching new connections. */
  stop(): void {
    if (this.#hooks !== undefined && this.#hooks.onConnect === this.#hook)
      this.#hooks.onConnect = this.#previous
    this.#pool.off('connect', this.#connected)
  }

  /** Reads what the router needs of a new connection; never fails (a connection that cannot say still serves). */
  #watch(client: pg.PoolClient): Promise<void> {
    const known = records.get(client)
    const record: ConnectionRecord = known ?? { level: undefined, tainted: false, warned: false }
    if (known === undefined) {
      records.set(client, record)
      client.on('notice', (notice: { code?: string; message?: string }) => {
        if (notice.code === '01000' && CANCELLED_WAIT.test(notice.message ?? '')) record.warned = true
      })
    }
    let answered: (identity: ServerIdentity | undefined) => void = () => {}
    servers.set(client, new Promise((resolve) => (answered = resolve)))
    return new Promise((resolve) => {
      ;(client as unknown as CallbackClient).query(CONNECTION_SQL, (error, result) => {
        if (error || !result?.rows[0]) {
          answered(undefined)
          resolve()
          return
        }
        const row = result.rows[0] as ConnectionRow
        if (known === undefined) record.level = commitLevelOf(parseSetting(row.commit))
        const identity = toServerIdentity(row)
        this.#hold(client, identity)
        answered(identity)
        resolve()
      })
    })
  }

  /** The server answering on `client` counts as seen for as long as the connection lives. */
  #hold(client: pg.PoolClient, identity: ServerIdentity): void {
    const release = this.#sightings.hold(identity)
    client.once('end', release)
  }
}

function parseSetting(text: string | null): { value: string; source: string } | undefined {
  if (!text) return undefined
  try {
    const [value, source] = JSON.parse(text) as [string, string]
    return { value, source }
  } catch {
    return undefined
  }
}

/** pg-pool's hook run on each new connection before it is handed out. */
type ConnectHook = (client: pg.PoolClient) => unknown

/** The options of a pg-pool, which it reads `onConnect` from on each new connection. */
interface HookedOptions {
  onConnect?: ConnectHook | undefined
}

/** pg's callback form of `query`, which its types for a pool client do not list for a plain text. */
interface CallbackClient {
  query(text: string, callback: (error: Error | null, result?: pg.QueryResult) => void): void
}
