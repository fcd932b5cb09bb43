/**
 * Writes the root README's benchmark figures from the latest records in `bench/results/` (see
 * `bench-results.ts`): the "Throughput vs plain `pg.Pool`" row of the comparison table, the paragraph naming its
 * source, and the staleness paragraph. A figure no record holds reads "not measured".
 *
 *   pnpm figures            rewrite README.md from bench/results
 *   pnpm figures --check    exit 1 when README.md and bench/results disagree (CI runs this)
 *
 * To put a new bench's figure in the README, return its rows from the bench (one key naming each compared client)
 * and name the bench, row and column in {@link THROUGHPUT_CELLS}: e.g. the `peers` bench whose rows carry
 * `client: 'pgpool-II'` and a `throughput ratio` fills the pgpool-II cell.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BenchRow, isMain } from './bench-module.js'
import { type BenchResults, readResults, resultsPath } from './bench-results.js'

/** Finds a bench's latest record (`readResults` by default; fixtures in tests). */
export type ResultsSource = (bench: string) => BenchResults | undefined

/** One cell of the throughput row: the bench whose record holds it, the row (by its keys) and the column. */
export interface ThroughputCell {
  /** Header of the table column, as in README.md (to find the column). */
  readonly column: string
  readonly bench: string
  /** Keys and values the row must have. */
  readonly row: Readonly<Record<string, string>>
  /** Column of the row holding the ratio. */
  readonly field: string
  /** Words after the ratio, e.g. which API was measured. */
  readonly note?: string
}

/** The peers bench (`pnpm bench peers`): its rows name the workload in `case` and the peer in `client`. */
const PEERS = 'peers'
const RATIO = 'throughput ratio'

/** Where each cell of the "Throughput vs plain `pg.Pool`" row comes from, by column. */
export const THROUGHPUT_CELLS: readonly ThroughputCell[] = [
  {
    column: 'pgroute',
    bench: 'core-throughput',
    row: { case: 'one replica (reads on it)', client: 'router.pool.query' },
    field: RATIO,
    note: '`router.pool.query`, reads on a replica',
  },
  { column: 'drizzle `withReplicas`', bench: PEERS, row: { client: 'drizzle withReplicas' }, field: RATIO },
  { column: '`kysely-replication`', bench: PEERS, row: { client: 'kysely-replication' }, field: RATIO },
  { column: 'Prisma read-replicas', bench: PEERS, row: { client: 'Prisma read-replicas' }, field: RATIO },
  {
    column: 'pgpool-II',
    bench: PEERS,
    row: { case: 'read-only', client: 'pgpool-II' },
    field: RATIO,
    note: 'read-only',
  },
  {
    column: 'AWS Advanced NodeJS Wrapper',
    bench: PEERS,
    row: { case: 'read-only', client: 'AWS Advanced NodeJS Wrapper' },
    field: RATIO,
    note: 'read-only',
  },
  { column: 'PgDog', bench: PEERS, row: { client: 'PgDog' }, field: RATIO },
]

/** First cell of the README table row this script owns. */
export const THROUGHPUT_ROW = 'Throughput vs plain `pg.Pool`'

const NOT_MEASURED = 'not measured'

function rowOf(
  results: BenchResults | undefined,
  match: Readonly<Record<string, string>>,
): BenchRow | undefined {
  return results?.rows.find((row) => Object.entries(match).every(([key, value]) => row[key] === value))
}

function ratio(value: string | number | undefined): string | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? `${value.toFixed(2)}×` : undefined
}

/** A record's provenance in words: command, date, machine, load, settings. */
export function provenance(results: BenchResults): string {
  const settings = Object.entries(results.settings).map(([key, value]) => `${key}=${value}`)
  return (
    `\`${results.command}\` of ${results.date.slice(0, 10)}, ${results.machine.cpus}, Node ${results.machine.node}, ` +
    `load average ${results.machine.loadAverage[0] ?? '?'}` +
    (settings.length > 0 ? ` (${settings.join(' ')})` : '')
  )
}

/** The link to a record, relative to the repository root. */
function recordLink(bench: string): string {
  return `[bench/results/${bench}.json](bench/results/${bench}.json)`
}

/** The text of one throughput cell. */
export function throughputCell(cell: ThroughputCell, source: ResultsSource): string {
  const results = source(cell.bench)
  const value = ratio(rowOf(results, cell.row)?.[cell.field])
  if (value === undefined) return NOT_MEASURED
  if (cell.bench !== 'core-throughput') return cell.note ? `${value} (${cell.note})` : value
  const control = ratio(rowOf(results, { ...cell.row, client: 'pg.Pool (control)' })?.[RATIO])
  const notes = [cell.note, control && `the control pool: ${control}`].filter(Boolean)
  return `${value} (${notes.join('; ')})`
}

/** Splits a table row into its cells (no escaped pipes in this table). */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim())
}

/** The throughput row rebuilt from the records, in the column order of the table's header. */
function throughputRow(header: string, source: ResultsSource): string {
  const columns = cells(header)
  const row = columns.map((column, index) => {
    if (index === 0) return THROUGHPUT_ROW
    const cell = THROUGHPUT_CELLS.find((candidate) => column.startsWith(candidate.column))
    if (!cell) throw new Error(`README comparison table: no figure source for the column "${column}"`)
    return throughputCell(cell, source)
  })
  return `| ${row.join(' | ')} |`
}

/** Wraps `text` at `width` columns. */
export function wrap(text: string, width = 118): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(line)
  return lines.join('\n')
}

/** The paragraph under the table saying where its throughput figures come from. */
function throughputSource(source: ResultsSource): string {
  const benches = [...new Set(THROUGHPUT_CELLS.map((cell) => cell.bench))]
  const measured = benches.flatMap((bench) => {
    const results = source(bench)
    return results ? [`${provenance(results)}, in ${recordLink(bench)}`] : []
  })
  const text =
    measured.length === 0
      ? 'Throughput: no bench record yet; run `pnpm bench core-throughput`, then `pnpm figures`.'
      : `Throughput ratios (median over interleaved rounds, 16 concurrent callers of point selects against a plain ` +
        `\`pg.Pool\` on the same server; see [bench/README.md](bench/README.md)): ${measured.join('; ')}. ` +
        `"Not measured": no bench in this repository measures it yet. Written by \`pnpm figures\`.`
  return wrap(text)
}

/** The staleness paragraph, from the `read-after-write` record. */
function staleness(source: ResultsSource): string {
  const results = source('read-after-write')
  const row = (contender: string) => rowOf(results, { contender })
  const session = row('pgroute, router.session()')
  const drizzle = row('Drizzle withReplicas (random)')
  const kysely = row('kysely-replication (random)')
  if (!results || !session || !drizzle || !kysely) {
    return wrap(
      'Stale reads right after a write: not measured yet (run `pnpm bench read-after-write`, then `pnpm figures`).',
    )
  }
  return wrap(
    `Measured by ${provenance(results)} on a 1+2 loopback cluster with one replica applying WAL 2 s late, 8 callers ` +
      `writing then reading back at once: reads issued right after the caller's own write were stale ` +
      `${drizzle['stale %']} % of the time with drizzle \`withReplicas\` and ${kysely['stale %']} % with ` +
      `\`kysely-replication\`; pgroute's session reads: ${session['stale reads']} stale, with ` +
      `${session['reads on replicas %']} % of them still served by replicas. Every figure of that run is in ` +
      `${recordLink('read-after-write')}; written by \`pnpm figures\`.`,
  )
}

/** Replaces the text between `<!-- figures:name -->` and `<!-- /figures -->`. */
function replaceBlock(readme: string, name: string, body: string): string {
  const start = `<!-- figures:${name} -->`
  const end = '<!-- /figures -->'
  const from = readme.indexOf(start)
  const to = from < 0 ? -1 : readme.indexOf(end, from)
  if (from < 0 || to < 0) throw new Error(`README.md has no ${start} ... ${end} block`)
  return `${readme.slice(0, from + start.length)}\n${body}\n${readme.slice(to)}`
}

/** README.md with every generated figure rebuilt from `source`. */
export function renderFigures(readme: string, source: ResultsSource = readResults): string {
  const lines = readme.split('\n')
  const at = lines.findIndex((line) => line.startsWith(`| ${THROUGHPUT_ROW} |`))
  if (at < 0) throw new Error(`README.md has no table row starting "| ${THROUGHPUT_ROW} |"`)
  const header = lines.slice(0, at).findLastIndex((line) => line.startsWith('| |'))
  if (header < 0) throw new Error('README.md: the comparison table has no header row starting "| |"')
  lines[at] = throughputRow(lines[header]!, source)
  let rendered = lines.join('\n')
  rendered = replaceBlock(rendered, 'throughput', throughputSource(source))
  rendered = replaceBlock(rendered, 'staleness', staleness(source))
  return rendered
}

/** The lines of `actual` that differ from `expected`, for the `--check` message. */
export function differences(expected: string, actual: string): string[] {
  const [want, have] = [expected.split('\n'), actual.split('\n')]
  const out: string[] = []
  for (let i = 0; i < Math.max(want.length, have.length); i++) {
    if (want[i] !== have[i])
      out.push(`line ${i + 1}:\n  README:   ${have[i] ?? ''}\n  results:  ${want[i] ?? ''}`)
  }
  return out
}

const HELP = `Usage: pnpm figures [--check]

Writes the benchmark figures of README.md (the comparison table's throughput row, its source paragraph and the
staleness paragraph) from the latest bench records in bench/results/*.json, which pnpm bench writes.
  --check     write nothing; exit 1 when README.md disagrees with the records (CI runs this)
  -h, --help  show this help
`

async function main(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP)
    return 0
  }
  const unknown = args.filter((arg) => arg !== '--check')
  if (unknown.length > 0) {
    process.stderr.write(`Unknown argument ${unknown.join(', ')}\n\n${HELP}`)
    return 2
  }
  const readmePath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md')
  const readme = readFileSync(readmePath, 'utf8')
  const rendered = renderFigures(readme)
  if (args.includes('--check')) {
    if (rendered === readme) {
      console.log('README.md figures match bench/results')
      return 0
    }
    console.error(
      `README.md figures disagree with bench/results (run pnpm figures):\n${differences(rendered, readme).join('\n')}`,
    )
    return 1
  }
  writeFileSync(readmePath, rendered)
  const sources = [...new Set(['read-after-write', ...THROUGHPUT_CELLS.map((cell) => cell.bench)])]
    .map((bench) => resultsPath(bench))
    .filter((file) => existsSync(file))
  console.log(
    `README.md figures written from ${sources.map((file) => path.relative(process.cwd(), file)).join(', ')}`,
  )
  return 0
}

if (isMain(import.meta.url)) process.exitCode = await main(process.argv.slice(2))
