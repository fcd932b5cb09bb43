import { expect } from 'vitest'

/** What a run of write-then-read iterations found. */
export interface ReadAfterWrite {
  readonly reads: number
  /** Reads that missed the write made just before them. */
  readonly stale: number
  /** Reads a replica answered (the rest: the primary). */
  readonly replicaReads: number
}

/** One iteration's read: whether it saw the write, and which server answered (its port). */
export interface Read {
  readonly fresh: boolean
  readonly servedBy: number | undefined
}

/** Runs `iterations` write-then-read iterations (`once(i)`), `concurrency` at a time. */
export async function readAfterWrite(
  iterations: number,
  replicaPorts: ReadonlySet<number>,
  once: (i: number) => Promise<Read>,
  concurrency = 4,
): Promise<ReadAfterWrite> {
  let next = 0
  let stale = 0
  let replicaReads = 0
  const worker = async () => {
    for (let i = next++; i < iterations; i = next++) {
      const read = await once(i)
      if (!read.fresh) stale++
      // A read that missed a committed write can only have been answered by a replica.
      if (!read.fresh || (read.servedBy !== undefined && replicaPorts.has(read.servedBy))) replicaReads++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { reads: iterations, stale, replicaReads }
}

/** Prints a run's figures: `express, with @pgroute/http: 200 reads, 0 stale, 92.0 % served by replicas`. */
export function report(label: string, result: ReadAfterWrite): void {
  const share = ((100 * result.replicaReads) / result.reads).toFixed(1)
  console.log(`${label}: ${result.reads} reads, ${result.stale} stale, ${share} % served by replicas`)
}

/**
 * The least share of reads replicas must serve in a run with the integration: a run whose reads all went to the
 * primary fails. Reads right after a write find no replica that has replayed it (a BullMQ job runs within a
 * millisecond or two of its request) and go to the primary, so the share depends on how soon the read follows the
 * write; every run prints it.
 */
export const MIN_REPLICA_SHARE = 0.1

/** Reports a run with the integration and checks it: no stale read, and replicas served a part of the reads. */
export function expectNoStaleRead(label: string, result: ReadAfterWrite): void {
  report(label, result)
  expect(result.stale).toBe(0)
  expect(result.replicaReads / result.reads).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
}

/** Reports a run without the integration and checks it missed writes: what the integration prevents. */
export function expectStaleReads(label: string, result: ReadAfterWrite): void {
  report(label, result)
  expect(result.stale).toBeGreaterThan(0)
}
