import pg from 'pg'
import type { NodeSpec } from '../config/resolved-options.js'
import { PgRouteError } from '../errors.js'
import { endClient } from '../pg-close.js'
import { attributeError } from '../pg-errors.js'

/** How long closing waits for the statements queued on a control connection. */
const CLOSE_WAIT_MS = 1000

/**
 * The router's own connection to one node, for its own statements (the primary's WAL position, a replica's
 * replay position): never a connection of the application's pool, so a saturated or pinned pool cannot stall
 * the router, and the router never takes a connection an application is waiting for. One statement at a time;
 * each is bounded by `timeoutMs` (connecting included), after which the connection is dropped.
 */
export class ControlConnection {
  readonly #spec: NodeSpec
  readonly #timeoutMs: number
  #client: pg.Client | undefined
  /** The statement queued last: the next one starts after it settles. */
  #tail: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor(spec: NodeSpec, timeoutMs: number) {
    this.#spec = spec
    this.#timeoutMs = timeoutMs
  }

  /** Runs `sql` once the statements queued before it have settled; resolves to its rows. */
  query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
    const run = this.#tail.then(
      () => this.#run<T>(sql),
      () => this.#run<T>(sql),
    )
    this.#tail = run.catch(() => {})
    return run
  }

  /**
   * Closes the connection for good once the statements queued so far have settled (at most {@link CLOSE_WAIT_MS});
   * later ones fail.
   */
  async close(): Promise<void> {
    // A statement in flight on a hung node is not awaited past a second: its connection is closed below.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.#tail,
      new Promise((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS)
        timer.unref()
      }),
    ])
    clearTimeout(timer)
    this.#closed = true
    const client = this.#client
    this.#client = undefined
    if (client) await endClient(client)
  }

  async #run<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
    if (this.#closed) throw closedError(this.#spec.name)
    let client = this.#client
    const opening = client ? undefined : this.#open()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#drop((client ?? opening)!)
        reject(
          new PgRouteError(
            'PGROUTE_TIMEOUT',
            `The router's own statement on ${this.#spec.name} timed out after ${this.#timeoutMs} ms`,
          ),
        )
      }, this.#timeoutMs)
      timer.unref()
    })
    try {
      if (opening) {
        await Promise.race([opening.connect(), timeout])
        // Closed meanwhile (router.end()): nobody would close it later.
        if (this.#closed) throw closedError(this.#spec.name)
        client = opening
        this.#client = opening
      }
      const result = await Promise.race([client!.query<T>(sql), timeout])
      return result.rows
    } catch (error) {
      // Connecting, or the statement on the connection: where the error came from tells what it means.
      attributeError(error, this.#client === undefined ? 'connect' : client!)
      this.#drop((client ?? opening)!)
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  #open(): pg.Client {
    const client = new pg.Client({
      ...this.#spec.connection,
      application_name: 'pgroute-control',
      connectionTimeoutMillis: this.#timeoutMs,
      // No `statement_timeout` startup parameter: PgBouncer refuses unknown ones (08P01), and a `SET` would stay
      // on a server connection PgBouncer shares. The limit is enforced here: a late statement drops the connection.
      keepAlive: true,
    })
    // A dropped connection is expected when a node dies; the next statement reconnects.
    client.on('error', () => this.#drop(client))
    return client
  }

  #drop(client: pg.Client): void {
    if (client === this.#client) this.#client = undefined
    void endClient(client)
  }
}

/** `PGROUTE_CLOSED`: the router's own connection to a node was closed (the router ended, or the node left). */
function closedError(name: string): PgRouteError {
  return new PgRouteError('PGROUTE_CLOSED', `The router's connection to ${name} is closed`)
}
