import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import type { ResolvedOptions } from '../config/resolved-options.js'
import type { Outcome } from '../errors.js'
import type { HealthMonitor } from '../health/health-monitor.js'
import { endClient } from '../pg-close.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'

/** How long the outcome of a commit is sought without `failover.waitMs` or `timeouts.writeMs` to go by. */
const DEFAULT_RESOLVE_MS = 5000

/** Pause between asks while the transaction is still in progress on its own node (its backend not gone yet). */
const IN_PROGRESS_PAUSE_MS = 50

/** A `COMMIT` whose answer was lost: the transaction's id, where it ran, and a WAL position known before it. */
export interface LostCommit {
  /** `txid_current()` read at `BEGIN` (a 64-bit id with its epoch), or `undefined` when none was read. */
  readonly xid: string | undefined
  readonly node: RouterNode
  /** The timeline `node` was on when the transaction ran. */
  readonly timeline: number | undefined
  /** A WAL position of `node` known before `COMMIT` was sent. */
  readonly lower: bigint | undefined
}

/**
 * Resolves the outcome of a `COMMIT` whose answer was lost (its connection died under it): it asks the primary the
 * router follows (once there is one, within `failover.waitMs`, else `timeouts.writeMs`, else 5 s) with
 * `txid_status()` about the transaction id read at `BEGIN`.
 *
 * | the primary asked | it says | outcome |
 * |---|---|---|
 * | on the transaction's timeline (no failover) | `committed` / `aborted` | that (`in progress` is asked again until it settles or the time is over: `unknown`) |
 * | on the transaction's timeline, restarted after a crash | no such id yet | `aborted`: nothing of it reached the WAL |
 * | on a newer timeline (a failover), the `COMMIT` sent past where the old timeline ended | – | `aborted` (not on the current history) |
 * | on a newer timeline | `aborted`, `in progress`, or no such id yet | `aborted`: the id is not the survivor's, whatever happened on the old node |
 * | on a newer timeline | `committed` | `unknown`: ids are given out again after a promotion, so this may be another transaction |
 * | none in time, or an error | – | `unknown` |
 */
export class CommitOutcomes {
  readonly #nodes: NodeSet
  readonly #monitor: HealthMonitor
  readonly #boundMs: number
  readonly #timeoutMs: number

  constructor(
    nodes: NodeSet,
    monitor: HealthMonitor,
    options: Pick<ResolvedOptions, 'failover' | 'timeouts' | 'healthCheck'>,
  ) {
    this.#nodes = nodes
    this.#monitor = monitor
    this.#boundMs = options.failover.waitMs || options.timeouts.writeMs || DEFAULT_RESOLVE_MS
    this.#timeoutMs = Math.max(options.healthCheck.timeoutMs, 1000)
  }

  /** What became of `commit` (see the class); never rejects. */
  async resolve(commit: LostCommit): Promise<Outcome> {
    const { xid } = commit
    if (xid === undefined || !/^\d+$/.test(xid)) return 'unknown'
    const deadline = Date.now() + this.#boundMs
    try {
      const survivor = await this.#nodes.waitForWritable(this.#boundMs)
      if (survivor === undefined) return 'unknown'
      const current = this.#nodes.timeline
      if (commit.timeline !== undefined && current > commit.timeline) {
        const end = await this.#monitor.timelineEnd(commit.timeline)
        if (end !== undefined && commit.lower !== undefined && commit.lower >= end) return 'aborted'
        const status = await this.#statusOn(survivor, xid)
        return status === 'committed' || status === undefined ? 'unknown' : 'aborted'
      }
      for (;;) {
        const status = await this.#statusOn(survivor, xid)
        if (status === 'committed' || status === 'aborted') return status
        // Restarted after a crash before anything of the transaction reached its WAL: the id was never given out.
        if (status === 'future') return 'aborted'
        if (status !== 'in progress' || Date.now() + IN_PROGRESS_PAUSE_MS > deadline) return 'unknown'
        await sleep(IN_PROGRESS_PAUSE_MS, undefined, { ref: false })
      }
    } catch {
      return 'unknown'
    }
  }

  /**
   * `txid_status(xid)` on `node`, on a short-lived connection of its own: `committed`, `aborted`, `in progress`,
   * `future` when the node never gave out that id (error 22023), `undefined` when it cannot tell.
   */
  async #statusOn(node: RouterNode, xid: string): Promise<string | undefined> {
    const client = new pg.Client({
      ...node.spec.connection,
      application_name: 'pgroute-control',
      connectionTimeoutMillis: this.#timeoutMs,
      query_timeout: this.#timeoutMs,
    })
    client.on('error', () => {})
    try {
      await client.connect()
      const { rows } = await client.query<{ status: string | null }>(
        `SELECT txid_status(${xid}::bigint) AS status`,
      )
      return rows[0]?.status ?? undefined
    } catch (error) {
      return (error as { code?: unknown }).code === '22023' ? 'future' : undefined
    } finally {
      void endClient(client)
    }
  }
}
