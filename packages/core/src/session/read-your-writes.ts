import { setTimeout as sleep } from 'node:timers/promises'
import type { ResolvedOptions } from '../config/resolved-options.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import { parseLsn, parseTimeline, type WalPosition } from '../health/lsn.js'
import { isConnectionError } from '../pg-errors.js'
import type { Lease } from '../replicas/lease.js'
import type { Exclusions, ReplicaSet } from '../replicas/replica-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { CausalSession } from './causal-session.js'

/** Where {@link ReadYourWrites} gets connections. */
export interface Connections {
  acquire(node: RouterNode, reason: string): Promise<Lease>
  release(lease: Lease, error?: unknown): void
}

/**
 * The read-your-writes rule: the primary's WAL position a session's reads must see, and a connection to a node
 * that has replayed it (a caught-up replica, one that catches up within `readYourWrites.maxWaitMs`, else the
 * primary).
 */
export class ReadYourWrites {
  readonly #replicas: ReplicaSet
  readonly #connections: Connections
  readonly #monitor: HealthMonitor
  readonly #options: ResolvedOptions['readYourWrites']

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
  }

  /** The primary's WAL insert position and timeline: everything committed before this call is at or before it. */
  readonly primaryPosition = async (): Promise<WalPosition> => {
    const { rows } = await this.#replicas.primary.pool.query<{ lsn: string; timeline: string }>(
      'SELECT pg_current_wal_insert_lsn()::text AS lsn, substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8) AS timeline',
    )
    const lsn = rows[0] ? parseLsn(rows[0].lsn) : undefined
    if (lsn === undefined) throw new Error('pg_current_wal_insert_lsn() returned no position')
    return { lsn, timeline: parseTimeline(rows[0]!.timeline) }
  }

  /** The WAL position `session`'s reads must see (fetched when a write happened since), or `undefined`. */
  required(session: CausalSession): Promise<WalPosition | undefined> | WalPosition | undefined {
    return session.required(this.primaryPosition)
  }

  /**
   * A connection for a read that must see `required`: a replica whose replay position has reached it, else the
   * primary. Replicas it goes to are excluded from `read`'s later attempts. Positions are compared only on the
   * same timeline: a position of another timeline, or of an unknown one, is read on the primary.
   */
  async lease(required: WalPosition, read: Exclusions): Promise<Lease> {
    const { timeline, lsn } = required
    const candidates =
      timeline === undefined || timeline !== this.#replicas.timeline
        ? []
        : this.#replicas.candidates(read).filter((replica) => replica.timeline === timeline)
    const node = this.#replicas.choose(
      candidates.filter((replica) => replica.lsn !== undefined && replica.lsn >= lsn),
    )
    if (node) {
      read.exclude(node)
      return this.#connections.acquire(node, 'read-your-writes')
    }
    if (this.#options.directCheck && candidates.length > 0) {
      // The probe data may be up to one interval old: ask the most advanced candidate itself.
      const best = candidates.reduce((a, b) => ((b.lsn ?? 0n) > (a.lsn ?? 0n) ? b : a))
      read.exclude(best)
      const lease = await this.#connections.acquire(best, 'read-your-writes')
      let caughtUpNow: boolean
      try {
        caughtUpNow = await this.#waitForReplay(lease, required)
      } catch (error) {
        this.#connections.release(lease, error)
        if (isConnectionError(error)) this.#monitor.reportConnectionFailure(best, error)
        throw error
      }
      if (caughtUpNow) return lease
      this.#connections.release(lease)
    }
    return this.#connections.acquire(this.#replicas.readFallback(), 'read-your-writes')
  }

  /**
   * Polls the replica's replay position on the leased connection until it reaches `required` or time is up. The
   * timeline it streams is read with it: a replica that moved to another timeline meanwhile is not caught up.
   */
  async #waitForReplay(lease: Lease, required: WalPosition): Promise<boolean> {
    const deadline = Date.now() + this.#options.maxWaitMs
    for (let pause = 1; ; pause = Math.min(pause * 2, 10)) {
      const { rows } = await lease.client.query<{ lsn: string | null; timeline: string | null }>(
        `SELECT pg_last_wal_replay_lsn()::text AS lsn,
          (SELECT lpad(to_hex(received_tli), 8, '0') FROM pg_stat_wal_receiver) AS timeline`,
      )
      const lsn = rows[0]?.lsn ? parseLsn(rows[0].lsn) : undefined
      const timeline = parseTimeline(rows[0]?.timeline) ?? lease.node.timeline
      if (lsn !== undefined && timeline === required.timeline) {
        this.#monitor.observeReplay(lease.node, lsn)
        if (lsn >= required.lsn) return true
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0) return false
      await sleep(Math.min(pause, remaining), undefined, { ref: false })
    }
  }
}
