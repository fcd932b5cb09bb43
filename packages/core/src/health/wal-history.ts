/** Most positions kept; at the default 1 s interval that is over an hour of a primary that writes all the time. */
const MAX_ENTRIES = 4096

interface Entry {
  readonly lsn: bigint
  /** When a probe first saw the primary at this position (epoch ms). */
  readonly seenAt: number
  /** When a probe last saw the primary still at this position (epoch ms). */
  lastSeenAt: number
}

/**
 * When the primary's WAL position was first seen past each point: the clock for replication lag in seconds.
 *
 * A replica that has replayed up to `L` is as late as the oldest WAL it is missing, which the primary wrote no
 * later than the first probe that saw the primary past `L`. That is exact to one probe interval, uses only this
 * process's clock, and — unlike the age of the replica's last replayed commit — does not call a replica seconds
 * late the moment a write arrives after an idle spell.
 */
export class WalHistory {
  /** Ascending by `lsn`: the primary's position only moves forward. */
  #entries: Entry[] = []

  /** Records the primary's position as seen by a probe at `at`. */
  record(lsn: bigint, at: number): void {
    const last = this.#entries.at(-1)
    if (last !== undefined && lsn <= last.lsn) {
      // A primary that went backwards is a different server (restored or replaced): start over.
      if (lsn < last.lsn) this.#entries = [{ lsn, seenAt: at, lastSeenAt: at }]
      else last.lastSeenAt = Math.max(last.lastSeenAt, at)
      return
    }
    this.#entries.push({ lsn, seenAt: at, lastSeenAt: at })
    if (this.#entries.length > MAX_ENTRIES) this.#entries.splice(0, this.#entries.length - MAX_ENTRIES)
  }

  /**
   * When the primary was first seen past `replayed`, or `undefined` if that is not known: it already was at the
   * first position kept, or it has not moved past `replayed` at all.
   */
  firstSeenPast(replayed: bigint): number | undefined {
    const entries = this.#entries
    let low = 0
    let high = entries.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (entries[middle]!.lsn > replayed) high = middle
      else low = middle + 1
    }
    return low > 0 && low < entries.length ? entries[low]!.seenAt : undefined
  }

  /**
   * When a probe last saw the primary at or before `replayed` (`undefined` if no position kept is): WAL past
   * `replayed` was written after it.
   */
  lastSeenAtOrBefore(replayed: bigint): number | undefined {
    const entries = this.#entries
    let low = 0
    let high = entries.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (entries[middle]!.lsn > replayed) high = middle
      else low = middle + 1
    }
    return low > 0 ? entries[low - 1]!.lastSeenAt : undefined
  }

  /** Drops positions no replica needs any more: all but the last one at or before `replayed`. */
  forgetUpTo(replayed: bigint): void {
    let drop = 0
    while (drop + 1 < this.#entries.length && this.#entries[drop + 1]!.lsn <= replayed) drop++
    if (drop > 0) this.#entries.splice(0, drop)
  }

  /** Number of positions kept (for tests). */
  get size(): number {
    return this.#entries.length
  }
}
