import type { SyncSnapshot } from './sync-replication.js'

/** Snapshots of the primary's synchronous replication kept. */
const SYNC_SNAPSHOTS_KEPT = 64

/**
 * The primary's latest snapshots of synchronous replication (from probes and from WAL-position lookups), oldest
 * first by when their answer arrived: what a session's write is judged against when it asks which standbys had
 * applied it before the commit was acknowledged.
 */
export class SyncSnapshotLog {
  #kept: SyncSnapshot[] = []

  /** Records `snapshot` in order of arrival (a lookup's answer may arrive before a probe sent earlier). */
  record(snapshot: SyncSnapshot): void {
    const kept = this.#kept
    let at = kept.length
    while (at > 0 && kept[at - 1]!.receivedAt > snapshot.receivedAt) at--
    kept.splice(at, 0, snapshot)
    if (kept.length > SYNC_SNAPSHOTS_KEPT) kept.splice(0, kept.length - SYNC_SNAPSHOTS_KEPT)
  }

  /** The first snapshot whose statement was sent after `time` (`performance.now()`). */
  sentAfter(time: number): SyncSnapshot | undefined {
    return this.#kept.find((snapshot) => snapshot.sentAt > time)
  }

  /** The latest snapshot received. */
  latest(): SyncSnapshot | undefined {
    return this.#kept.at(-1)
  }

  /** The latest snapshot received before `time` (`performance.now()`). */
  before(time: number): SyncSnapshot | undefined {
    const kept = this.#kept
    for (let i = kept.length - 1; i >= 0; i--) if (kept[i]!.receivedAt < time) return kept[i]
    return undefined
  }
}
