/**
 * Mixed load through the public router API only: plain reads and writes, read-your-writes sessions (write, read
 * back, take the token), later sessions continuing from a token, and transactions (read-write and read-only).
 */
import { randomUUID } from 'node:crypto'
import type { Router } from '@pgroute/core'
import { type ChaosMetrics, type OpKind, sessionOutcome } from './chaos-metrics.js'

/** How hard the load drives the router. */
export interface LoadOptions {
  /** Concurrent callers. */
  readonly workers: number
  /** Pause of each caller between two calls, in ms (keeps a 2-core machine from saturating). */
  readonly paceMs: number
}

/** A session's write, carried as a token to a later session. */
interface CarriedToken {
  readonly token: string
  readonly key: string
  readonly writtenAt: number
}

/** Table every scenario's cluster gets (see {@link setupSql}). */
export const setupSql = `CREATE TABLE chaos_rows (id bigserial PRIMARY KEY, key text UNIQUE NOT NULL, note text)`

const insertSql = 'INSERT INTO chaos_rows (key, note) VALUES ($1, $2)'
const readBackSql = 'SELECT 1 FROM chaos_rows WHERE key = $1'
const latestSql = 'SELECT key FROM chaos_rows ORDER BY id DESC LIMIT 1'
/** Call mix by call number modulo its length. */
const mix = [
  'read',
  'session',
  'write',
  'carried',
  'read',
  'session',
  'tx',
  'read',
  'carried',
  'write',
] as const
/** Bound on carried tokens kept (oldest dropped). */
const keptTokens = 5000

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Runs the load until {@link stop}. */
export class LoadDriver {
  readonly #router: Router
  readonly #metrics: ChaosMetrics
  readonly #options: LoadOptions
  readonly #carried: CarriedToken[] = []
  readonly #inFlight = new Set<Promise<unknown>>()
  #running = false
  #workers: Promise<void>[] = []

  constructor(router: Router, metrics: ChaosMetrics, options: LoadOptions) {
    this.#router = router
    this.#metrics = metrics
    this.#options = options
  }

  /** Runs `count` plain reads at once (a traffic burst), recorded like the others. */
  async burst(count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, () => this.#op('read', 0)))
  }

  /**
   * Runs `count` sessions at once that each write a row, wait `holdMs`, then read it back in the same
   * `router.session()` scope, never asking for a token: the sessions the router must know the writes of without
   * being told (see {@link ChaosMetrics.sessionWrites}). Counted as in flight until they end.
   */
  holdSessions(count: number, holdMs: number): Promise<void> {
    const held = Promise.all(
      Array.from({ length: count }, () =>
        this.#router
          .session(async () => {
            const key = await this.#write()
            if (!key) return
            this.#metrics.sessionWrite(key)
            await sleep(holdMs)
            await this.#readBack(key)
          })
          .catch(() => {}),
      ),
    ).then(() => {})
    this.#inFlight.add(held)
    void held.then(() => this.#inFlight.delete(held))
    return held
  }

  /** Starts the callers. */
  start(): void {
    this.#running = true
    this.#workers = Array.from({ length: this.#options.workers }, (_, worker) => this.#work(worker))
  }

  /** Stops starting calls and waits up to `graceMs` for those in flight; resolves to how many never settled. */
  async stop(graceMs: number): Promise<number> {
    this.#running = false
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(this.#workers),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs)
      }),
    ])
    clearTimeout(timer)
    return this.#inFlight.size
  }

  async #work(worker: number): Promise<void> {
    for (let call = worker; this.#running; call += this.#options.workers) {
      const op = this.#op(mix[call % mix.length]!, call)
      this.#inFlight.add(op)
      await op
      this.#inFlight.delete(op)
      await sleep(this.#options.paceMs)
    }
  }

  /** One call of the mix; never rejects (outcomes go to the metrics). */
  #op(kind: (typeof mix)[number], call: number): Promise<unknown> {
    switch (kind) {
      case 'read':
        return this.#timed('read', () => this.#router.query(latestSql))
      case 'write':
        return this.#write()
      case 'session':
        return this.#router.session(() => this.#session()).catch(() => {})
      case 'carried':
        return this.#carriedRead()
      case 'tx':
        return call % 2 === 0 ? this.#writeTransaction() : this.#readTransaction()
    }
  }

  /** Runs `fn` as one call of `kind`; resolves to its value, or undefined when it failed. */
  async #timed<T>(kind: OpKind, fn: () => Promise<T>): Promise<T | undefined> {
    const started = performance.now()
    try {
      const value = await fn()
      this.#metrics.record(kind, started)
      return value
    } catch (error) {
      this.#metrics.record(kind, started, error)
      return undefined
    }
  }

  async #write(): Promise<string | undefined> {
    const key = randomUUID()
    const done = await this.#timed('write', () => this.#router.query(insertSql, [key, 'write']))
    if (!done) return undefined
    this.#metrics.acknowledged.push(key)
    return key
  }

  /** Inside a session: write, read it back (stale if missing), keep the token for a later session. */
  async #session(): Promise<void> {
    const writtenAt = performance.now()
    const key = await this.#write()
    if (!key) return
    this.#metrics.sessionWrite(key)
    await this.#readBack(key)
    const started = performance.now()
    const token = await this.#router.token().then(
      (value) => {
        this.#metrics.record('token', started)
        return value
      },
      (error: unknown) => {
        this.#metrics.record('token', started, error)
        this.#metrics.sessionCall(key, started, sessionOutcome(error))
        return undefined
      },
    )
    if (token) {
      this.#carried.push({ token, key, writtenAt })
      if (this.#carried.length > keptTokens) this.#carried.shift()
    }
  }

  /**
   * A later request continuing from a token: before the `fault` mark it re-reads the newest write (kept), after it
   * the oldest write not re-read yet, so that writes made before the fault are read back after it.
   */
  async #carriedRead(): Promise<void> {
    const faulted = this.#metrics.marks.has('fault')
    const carried = faulted ? this.#carried.shift() : this.#carried.at(-1)
    if (!carried) return
    const started = performance.now()
    const fault = this.#metrics.marks.get('fault')
    const healed = this.#metrics.marks.get('healed') ?? fault
    const spanning =
      fault !== undefined && healed !== undefined && carried.writtenAt < fault && started > healed
    await this.#router
      .session(() => this.#readBack(carried.key, spanning), { token: carried.token })
      .catch((error: unknown) => {
        this.#metrics.record('read', started, error)
        this.#metrics.sessionCall(carried.key, started, sessionOutcome(error))
      })
  }

  /**
   * Reads a session's row back: stale when missing. A session told its write was lost
   * (`PGROUTE_WRITES_LOST`) is not stale: the rules compare what it was told with what the primary has.
   */
  async #readBack(key: string, spanning = false): Promise<void> {
    const started = performance.now()
    let rowCount: number | null
    try {
      rowCount = (await this.#router.query(readBackSql, [key])).rowCount
    } catch (error) {
      this.#metrics.record('read', started, error)
      this.#metrics.sessionCall(key, started, sessionOutcome(error))
      return
    }
    this.#metrics.record('read', started)
    this.#metrics.sessionCall(key, started, rowCount === 0 ? 'missing' : 'seen')
    this.#metrics.sessionReads++
    if (spanning) this.#metrics.spanningReads++
    if (rowCount === 0) this.#metrics.staleReads++
  }

  /**
   * A read-write transaction, run again (up to twice) when it fails with `outcome: 'aborted'`, as the router's
   * errors tell a caller it may: it did not commit, so running it again cannot apply it twice. Re-runs are counted.
   */
  async #writeTransaction(): Promise<void> {
    const key = randomUUID()
    const done = await this.#timed('write', async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.#router.transaction(async (client) => {
            await client.query(insertSql, [key, 'transaction'])
            return client.query(readBackSql, [key])
          })
        } catch (error) {
          if (attempt >= 2 || (error as { outcome?: unknown } | null)?.outcome !== 'aborted') throw error
          this.#metrics.transactionReruns++
        }
      }
    })
    if (done) this.#metrics.acknowledged.push(key)
  }

  #readTransaction(): Promise<unknown> {
    return this.#timed('read', () =>
      this.#router.transaction((client) => client.query(latestSql), { readOnly: true }),
    )
  }
}
