/** How one read of a counter went. */
export interface ReadOutcome {
  /** The value read; `undefined` when the row was not there at all (also stale). */
  readonly value: number | undefined
  /** Port of the server that answered, when the read could report it. */
  readonly port?: number
}

export interface StaleReadWorkload {
  /** Write-then-read pairs in total. */
  readonly iterations: number
  /** Concurrent workers; worker `w` owns counter `firstKey + w`, so the value it wrote is the newest one. */
  readonly workers: number
  readonly firstKey: number
  /** Bumps counter `key`, returning the new value. */
  readonly write: (key: number, iteration: number) => Promise<number>
  /** Reads counter `key`. */
  readonly read: (key: number, iteration: number) => Promise<ReadOutcome>
  /** Wraps each write-then-read pair (e.g. in `router.session()`). Default: runs it as is. */
  readonly pair?: (run: () => Promise<void>) => Promise<void>
}

export interface StaleReadReport {
  readonly reads: number
  /** Reads that returned an older value than the write just before them. */
  readonly stale: number
  readonly staleShare: number
  /** Reads per answering port. */
  readonly byPort: ReadonlyMap<number, number>
  /** Stale reads per answering port. */
  readonly staleByPort: ReadonlyMap<number, number>
}

function bump(map: Map<number, number>, key: number | undefined): void {
  if (key !== undefined) map.set(key, (map.get(key) ?? 0) + 1)
}

/** Runs write-then-read pairs and counts reads that did not see the write before them. */
export async function runStaleReadWorkload(workload: StaleReadWorkload): Promise<StaleReadReport> {
  const { iterations, workers, firstKey, write, read, pair = (run) => run() } = workload
  let reads = 0
  let stale = 0
  const byPort = new Map<number, number>()
  const staleByPort = new Map<number, number>()
  let next = 0
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      const key = firstKey + worker
      for (let i = next++; i < iterations; i = next++) {
        await pair(async () => {
          const written = await write(key, i)
          const outcome = await read(key, i)
          reads++
          bump(byPort, outcome.port)
          if (outcome.value === undefined || outcome.value < written) {
            stale++
            bump(staleByPort, outcome.port)
          }
        })
      }
    }),
  )
  return { reads, stale, staleShare: reads === 0 ? 0 : stale / reads, byPort, staleByPort }
}

/** One line for the test log: share of stale reads and where reads were answered. */
export function describeReport(
  label: string,
  report: StaleReadReport,
  names: ReadonlyMap<number, string>,
): string {
  const where = [...report.byPort]
    .map(
      ([port, count]) => `${names.get(port) ?? port}: ${count} (${report.staleByPort.get(port) ?? 0} stale)`,
    )
    .join(', ')
  const share = (report.staleShare * 100).toFixed(1)
  return `${label}: ${report.stale}/${report.reads} stale reads (${share}%)${where ? `; answered by ${where}` : ''}`
}
