/**
 * The machine-readable record of a bench run: `pnpm bench <name>` writes `bench/results/<name>.json` (committed),
 * and `pnpm figures` turns the latest records into the figures of the root README. A record holds the rows the
 * bench returned, the command, the date, the machine and the settings, so a figure always says where it is from.
 *
 * A new bench adds rows by returning them from `run()` (flat `BenchRow`s, one key naming each compared client);
 * `readme-figures.ts` names which bench, row and column each README figure reads.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchRow } from './bench-module.js'

/** Where the records live: `bench/results/`. */
export const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results')

/** What the run was measured on. */
export interface Machine {
  /** `process.version`, e.g. `v20.20.2`. */
  readonly node: string
  /** `linux x64`. */
  readonly platform: string
  /** `2 × AMD EPYC 7B13`. */
  readonly cpus: string
  /** The 1, 5 and 15 minute load averages when the run started: a busy machine shows here. */
  readonly loadAverage: readonly number[]
}

/** One bench's latest run, as written to `bench/results/<bench>.json`. */
export interface BenchResults {
  /** Format of this record; bumped when its shape changes. */
  readonly format: 1
  /** The bench's name (its file in `bench/src`). */
  readonly bench: string
  /** The command that produced it, to run again. */
  readonly command: string
  /** When the run started (ISO 8601). */
  readonly date: string
  readonly machine: Machine
  /** The `BENCH_*` variables the run used. */
  readonly settings: Readonly<Record<string, string>>
  /** The rows the bench returned, as `pnpm bench` prints them. */
  readonly rows: readonly BenchRow[]
}

/** The machine this process runs on, now. */
export function currentMachine(): Machine {
  const cpus = os.cpus()
  return {
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: `${cpus.length} × ${cpus[0]?.model.trim().replace(/\s+/g, ' ') ?? 'unknown CPU'}`,
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
  }
}

/** The `BENCH_*` settings of this process. */
export function benchSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .filter((entry): entry is [string, string] => entry[0].startsWith('BENCH_') && entry[1] !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  )
}

/** Path of the record of `bench` in `dir`. */
export function resultsPath(bench: string, dir = RESULTS_DIR): string {
  return path.join(dir, `${bench}.json`)
}

/** Writes the record of one run (replacing the previous one) and returns its path. */
export function saveResults(results: Omit<BenchResults, 'format'>, dir = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true })
  const file = resultsPath(results.bench, dir)
  writeFileSync(file, `${JSON.stringify({ format: 1, ...results }, null, 2)}\n`)
  return file
}

/** The latest record of `bench`, or `undefined` when it was never run (or its file is not a record). */
export function readResults(bench: string, dir = RESULTS_DIR): BenchResults | undefined {
  const file = resultsPath(bench, dir)
  if (!existsSync(file)) return undefined
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchResults>
  if (parsed.format !== 1 || parsed.bench !== bench || !Array.isArray(parsed.rows)) {
    throw new Error(`${file} is not a bench record of ${bench} (format 1)`)
  }
  return parsed as BenchResults
}
