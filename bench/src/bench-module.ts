/**
 * The contract between `run-all.ts` and each bench file: what a bench exports, the rows it returns, and how a file
 * knows it was started on its own.
 */
import { pathToFileURL } from 'node:url'

/** One line of a benchmark's table: flat, printable with `console.table`. Every row of one bench has the same keys. */
export type BenchRow = Readonly<Record<string, string | number>>

/** What every `bench/src/<name>.ts` listed in `run-all.ts` exports. */
export interface BenchModule {
  /** The file name without `.ts`, e.g. `core-throughput`. */
  readonly name: string
  /** Starts what it needs, measures, stops everything it started, and returns the figures of this one run. */
  run(): Promise<readonly BenchRow[]>
}

/** True when `importMetaUrl` is the file node was started with (a bench run on its own). */
export function isMain(importMetaUrl: string): boolean {
  return process.argv[1] !== undefined && importMetaUrl === pathToFileURL(process.argv[1]).href
}
