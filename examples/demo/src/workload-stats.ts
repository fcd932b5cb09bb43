/** Read times kept per server. */
const maxSamples = 20_000

/** Counts of what the virtual users did and saw, by server port (from the `x-pgroute-node` header). */
export class WorkloadStats {
  /** HTTP requests of the workload, answered or not. */
  requests = 0
  /** Requests that failed: no answer, a 5xx, or any status the workload did not expect. */
  errors = 0
  /** Reads that had to show the user's own earlier write. */
  checks = 0
  /** Of those, reads that did not show it. Must stay 0. */
  stale = 0
  /** Reads without a token that did not find a post another user had just created: lag, as expected. */
  anonymousMisses = 0
  /** Reads answered, by the port of the server that ran them; `0` when the answer did not say (a 404). */
  readonly reads = new Map<number, number>()
  /** Writes answered, by the port of the server that ran them. */
  readonly writes = new Map<number, number>()
  /** Milliseconds each answered read took (request to answer), by server port. */
  readonly readMs = new Map<number, number[]>()
  /** The first few failures and stale reads, to show in the summary. */
  readonly samples: string[] = []
  #recentReadMs = new Map<number, number[]>()

  /** Records an answered read or write, the server that ran it and how long it took. */
  served(kind: 'read' | 'write', port: number | undefined, ms?: number): void {
    const counts = kind === 'read' ? this.reads : this.writes
    counts.set(port ?? 0, (counts.get(port ?? 0) ?? 0) + 1)
    if (kind === 'read' && ms !== undefined && port !== undefined) {
      const times = this.readMs.get(port) ?? []
      if (times.length < maxSamples) times.push(ms)
      else times[Math.floor(Math.random() * maxSamples)] = ms // a random sample of a long run
      this.readMs.set(port, times)
      const recent = this.#recentReadMs.get(port)
      if (recent) recent.push(ms)
      else this.#recentReadMs.set(port, [ms])
    }
  }

  /** Read times by server port since the last call (for the live table's per-second figures). */
  takeRecentReadMs(): Map<number, number[]> {
    const recent = this.#recentReadMs
    this.#recentReadMs = new Map()
    return recent
  }

  /** Records a read-your-writes check; `problem` describes the miss when it failed. */
  check(problem?: string): void {
    this.checks++
    if (problem === undefined) return
    this.stale++
    this.#sample(`stale: ${problem}`)
  }

  /** Records a failed request. */
  error(problem: string): void {
    this.errors++
    this.#sample(`error: ${problem}`)
  }

  #sample(text: string): void {
    if (this.samples.length < 10) this.samples.push(text)
  }

  /** Total of a count map. */
  static total(counts: ReadonlyMap<number, number>): number {
    let sum = 0
    for (const n of counts.values()) sum += n
    return sum
  }
}

/** The median of `times`, or undefined when there are none. */
export function median(times: readonly number[] | undefined): number | undefined {
  if (!times || times.length === 0) return undefined
  const sorted = [...times].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}
