import { setTimeout as sleep } from 'node:timers/promises'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { ControlConnection } from '../core/control-connection.js'
import { SharedFetch } from '../core/shared-fetch.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import { parseLsn } from '../health/lsn.js'
import type { Lease } from '../replicas/lease.js'
import type { Exclusions, ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from './causal-session.js'

/** Where {@link ReadYourWrites} gets connections for the reads it places. */
export interface Connections {
  acquire(node: RouterNode, reason: string): Promise<Lease>
}

/**
 * Bound of the router's own statements when reads have no time limit. A session read that needs the primary's
 * position has no safe answer without it, so it waits as long as a read may.
 */
const CONTROL_TIMEOUT_MS = 30_000

/**
 * The read-your-writes rule: the primary's WAL position a session's reads must see, and a connection to a node
 * that has replayed it (a caught-up replica, one that catches up within `readYourWrites.maxWaitMs`, else the
 * primary). WAL positions are read on the router's own connection to each node ({@link ControlConnection}),
 * never on a connection of the application's pools, and concurrent callers share each lookup.
 */
export class ReadYourWrites {
  readonly #replicas: ReplicaSet
  readonly #connections: Connections
  readonly #monitor: HealthMonitor
  readonly #options: ResolvedOptions['readYourWrites']
  /** How long a replica's replay position is awaited before the read goes elsewhere. */
  readonly #replayCheckMs: number
  readonly #controls = new Map<RouterNode, ControlConnection>()
  readonly #positions = new Map<RouterNode, SharedFetch<bigint | undefined>>()

  constructor(
    replicas: ReplicaSet,
    connections: Connections,
    monitor: HealthMonitor,
    options: ResolvedOptions,
  ) {
    this.#replicas = replicas
    this.#connections = connections
    this.#monitor = monitor
    this.#options = options.readYourWrites
    this.#replayCheckMs = options.healthCheck.timeoutMs
    const timeoutMs = options.timeouts.readMs || CONTROL_TIMEOUT_MS
    for (const node of [replicas.primary, ...replicas.all]) {
      const control = new ControlConnection(node.spec, timeoutMs)
      this.#controls.set(node, control)
      const sql =
        node.role === 'primary'
          ? 'SELECT pg_current_wal_insert_lsn()::text AS lsn'
          : 'SELECT pg_last_wal_replay_lsn()::text AS lsn'
      this.#positions.set(
        node,
        new SharedFetch(async () => {
          const [row] = await control.query<{ lsn: string | null }>(sql)
          return row?.lsn ? parseLsn(row.lsn) : undefined
        }),
      )
    }
  }

  /** The primary's WAL insert position: everything committed before this call is at or before it. */
  readonly primaryPosition = async (): Promise<bigint> => {
    const lsn = await this.#positions.get(this.#replicas.primary)!.get()
    if (lsn === undefined) throw new Error('pg_current_wal_insert_lsn() returned no position')
    return lsn
  }

  /** The WAL position `session`'s reads must see (fetched when a write happened since), or `undefined`. */
  required(session: CausalSession): Promise<bigint | undefined> | bigint | undefined {
    if (session.claim !== undefined) return this.#verifyClaim(session, session.claim)
    return session.required(this.primaryPosition)
  }

  /**
   * A connection for a read that must see `required`: a replica whose replay position has reached it, else the
   * primary. Replicas it goes to are excluded from `read`'s later attempts. Waiting for a replica to replay holds
   * none of its connections.
   */
  async lease(required: bigint, read: Exclusions): Promise<Lease> {
    const candidates = this.#replicas.candidates(read)
    const node = this.#replicas.choose(
      candidates.filter((replica) => replica.lsn !== undefined && replica.lsn >= required),
    )
    if (node) {
      read.exclude(node)
      return this.#connections.acquire(node, 'read-your-writes')
    }
    if (this.#options.directCheck && candidates.length > 0) {
      // The probe data may be up to one interval old: ask the most advanced candidate itself.
      const best = candidates.reduce((a, b) => ((b.lsn ?? 0n) > (a.lsn ?? 0n) ? b : a))
      read.exclude(best)
      if (await this.#replayed(best, required)) return this.#connections.acquire(best, 'read-your-writes')
    }
    return this.#connections.acquire(this.#replicas.primary, 'read-your-writes')
  }

  /** Closes the router's own connections. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#controls.values()].map((control) => control.close()))
  }

  /**
   * A token's position is believed up to what the primary is known to have reached (its last probe, or a
   * replica that received that far); beyond it, the primary is asked. A position the primary has not reached
   * cannot come from a real token: it is clamped to the furthest position a replica has replayed (a position the
   * primary did reach), so a forged token can neither pin a session to the primary nor hold reads waiting.
   */
  async #verifyClaim(session: CausalSession, claim: bigint): Promise<bigint | undefined> {
    let known = this.#monitor.primaryLsn ?? 0n
    let replayed = 0n
    for (const replica of this.#replicas.all) {
      if (replica.receiveLsn !== undefined && replica.receiveLsn > known) known = replica.receiveLsn
      if (replica.lsn !== undefined && replica.lsn > replayed) replayed = replica.lsn
    }
    const real = claim <= known || claim <= (await this.primaryPosition())
    session.settleClaim(claim, real ? claim : replayed)
    return session.required(this.primaryPosition)
  }

  /** Polls `node`'s replay position until it reaches `required` (true) or `maxWaitMs` is over (false). */
  async #replayed(node: RouterNode, required: bigint): Promise<boolean> {
    const deadline = Date.now() + this.#options.maxWaitMs
    for (let pause = 1; ; pause = Math.min(pause * 2, 10)) {
      let lsn: bigint | undefined
      try {
        lsn = await within(this.#positions.get(node)!.get(), this.#replayCheckMs)
      } catch {
        // The replica could not say in time: the read goes elsewhere (the monitor judges the node).
        return false
      }
      if (lsn !== undefined) {
        this.#monitor.observeReplay(node, lsn)
        if (lsn >= required) return true
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0) return false
      await sleep(Math.min(pause, remaining), undefined, { ref: false })
    }
  }
}

/** `promise`, or a rejection once `ms` have passed (the timer never holds the process open). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
