interface Entry<V> {
  readonly value: V
  /** Value of the insertion clock when the entry was (re)inserted: how far from the back of the Map it is. */
  stamp: number
}

/**
 * A least-recently-used cache on a Map, whose iteration order is insertion order: the first entry is the one to
 * evict, and a hit moves its entry to the end.
 *
 * Moving an entry (delete + set) costs V8 time in proportion to the Map's size, so a hit moves its entry only
 * once it has drifted into the older half: a statement used at least once per `capacity / 2` insertions is never
 * evicted, and a hot statement's hit is a plain lookup.
 */
export class LruCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #capacity: number
  readonly #refreshAfter: number
  #clock = 0

  /** @param capacity Maximum number of entries, at least 1. */
  constructor(capacity: number) {
    this.#capacity = capacity
    this.#refreshAfter = capacity >> 1
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size
  }

  /** The value cached for `key`, kept among the recently used; undefined on a miss. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (this.#clock - entry.stamp > this.#refreshAfter) {
      this.#entries.delete(key)
      entry.stamp = this.#clock++
      this.#entries.set(key, entry)
    }
    return entry.value
  }

  /** The cached entries, least recently used first (approximately: see the class comment). */
  *entries(): IterableIterator<[key: string, value: V]> {
    for (const [key, entry] of this.#entries) yield [key, entry.value]
  }

  /** Caches `value` as the most recently used entry, evicting the least recently used one when full. */
  set(key: string, value: V): void {
    const entries = this.#entries
    entries.delete(key)
    entries.set(key, { value, stamp: this.#clock++ })
    if (entries.size > this.#capacity) entries.delete(entries.keys().next().value!)
  }
}
