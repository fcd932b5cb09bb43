/**
 * A least-recently-used cache on a Map, whose iteration order is insertion order: a hit moves its entry to
 * the end, and the first entry is the one to evict.
 */
export class LruCache<V> {
  private readonly entries = new Map<string, V>()
  private readonly capacity: number

  /** @param capacity Maximum number of entries, at least 1. */
  constructor(capacity: number) {
    this.capacity = capacity
  }

  /** Number of entries held. */
  get size(): number {
    return this.entries.size
  }

  /** The value cached for `key`, which becomes the most recently used; undefined on a miss. */
  get(key: string): V | undefined {
    const entries = this.entries
    const value = entries.get(key)
    if (value !== undefined) {
      entries.delete(key)
      entries.set(key, value)
    }
    return value
  }

  /** Caches `value` as the most recently used entry, evicting the least recently used one when full. */
  set(key: string, value: V): void {
    const entries = this.entries
    entries.set(key, value)
    if (entries.size > this.capacity) entries.delete(entries.keys().next().value!)
  }
}
