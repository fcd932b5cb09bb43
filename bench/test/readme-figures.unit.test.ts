import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { BenchRow } from '../src/bench-module.js'
import type { BenchResults } from '../src/bench-results.js'
import { renderFigures, THROUGHPUT_ROW } from '../src/readme-figures.js'

const readmePath = path.join(import.meta.dirname, '..', '..', 'README.md')

function record(bench: string, rows: BenchRow[]): BenchResults {
  return {
    format: 1,
    bench,
    command: `pnpm bench ${bench}`,
    date: '2026-12-01T10:00:00.000Z',
    machine: { node: 'v20.0.0', platform: 'linux x64', cpus: '2 × Test CPU', loadAverage: [0.5, 0.4, 0.3] },
    settings: { BENCH_ROUNDS: '8' },
    rows,
  }
}

const FIXTURES: Record<string, BenchResults> = {
  'core-throughput': record('core-throughput', [
    { case: 'one replica (reads on it)', client: 'router.pool.query', 'throughput ratio': 0.981 },
    { case: 'one replica (reads on it)', client: 'pg.Pool', 'throughput ratio': '(baseline)' },
    { case: 'one replica (reads on it)', client: 'pg.Pool (control)', 'throughput ratio': 1.004 },
    { case: 'primary only', client: 'router.pool.query', 'throughput ratio': 0.5 },
  ]),
  'read-after-write': record('read-after-write', [
    { contender: 'pgroute, router.session()', 'reads on replicas %': 97.5, 'stale reads': 0, 'stale %': 0 },
    {
      contender: 'Drizzle withReplicas (random)',
      'reads on replicas %': 100,
      'stale reads': 300,
      'stale %': 56,
    },
    {
      contender: 'kysely-replication (random)',
      'reads on replicas %': 100,
      'stale reads': 299,
      'stale %': 55.8,
    },
  ]),
}

const TEMPLATE = `# t

| | pgroute | drizzle \`withReplicas\` (0.45) | pgpool-II | PgDog |
|---|---|---|---|---|
| Where it runs | in process | in process | proxy | proxy |
| ${THROUGHPUT_ROW} | old | old | ~0.40× | old |

<!-- figures:throughput -->
old text
<!-- /figures -->

<!-- figures:staleness -->
53.2 %
<!-- /figures -->
`

function throughputRow(readme: string): string {
  return readme.split('\n').find((line) => line.startsWith(`| ${THROUGHPUT_ROW}`))!
}

describe('pnpm figures', () => {
  it('writes each throughput cell from its record, and "not measured" where no bench measures it', () => {
    const rendered = renderFigures(TEMPLATE, (bench) => FIXTURES[bench])
    expect(throughputRow(rendered)).toBe(
      `| ${THROUGHPUT_ROW} | 0.98× (\`router.pool.query\`, reads on a replica; the control pool: 1.00×) | not measured | not measured | not measured |`,
    )
    expect(rendered).not.toContain('~0.40×')
    expect(rendered.replace(/\s+/g, ' ')).toContain(
      '`pnpm bench core-throughput` of 2026-12-01, 2 × Test CPU, Node v20.0.0, load average 0.5 (BENCH_ROUNDS=8)',
    )
  })

  it('writes the staleness paragraph from the read-after-write record, with its date and machine', () => {
    const rendered = renderFigures(TEMPLATE, (bench) => FIXTURES[bench])
    const paragraph = rendered.slice(rendered.indexOf('<!-- figures:staleness -->'))
    expect(paragraph.replace(/\s+/g, ' ')).toContain(
      '`pnpm bench read-after-write` of 2026-12-01, 2 × Test CPU',
    )
    expect(paragraph.replace(/\s+/g, ' ')).toContain(
      'stale 56 % of the time with drizzle `withReplicas` and 55.8 % with `kysely-replication`; ' +
        "pgroute's session reads: 0 stale, with 97.5 % of them still served by replicas",
    )
    expect(paragraph).not.toContain('53.2')
  })

  it('fills a peer column once a bench records its rows (the format new benches add to)', () => {
    const peers = record('peers', [{ case: 'read-only', client: 'pgpool-II', 'throughput ratio': 0.412 }])
    const rendered = renderFigures(TEMPLATE, (bench) => (bench === 'peers' ? peers : FIXTURES[bench]))
    expect(throughputRow(rendered)).toContain('| 0.41× (read-only) |')
    expect(rendered.replace(/\s+/g, ' ')).toContain('`pnpm bench peers` of 2026-12-01')
  })

  it('says "not measured" for everything without records', () => {
    const rendered = renderFigures(TEMPLATE, () => undefined)
    expect(throughputRow(rendered)).toBe(
      `| ${THROUGHPUT_ROW} | not measured | not measured | not measured | not measured |`,
    )
    expect(rendered).toContain('Stale reads right after a write: not measured yet')
  })

  it('refuses a README without its blocks, naming what is missing', () => {
    expect(() => renderFigures('# nothing', () => undefined)).toThrow(/no table row starting/)
  })

  it('the committed README agrees with the committed records in bench/results (as `pnpm figures --check`)', () => {
    const readme = readFileSync(readmePath, 'utf8')
    expect(renderFigures(readme)).toBe(readme)
    // And the check can fail: a figure edited by hand is caught.
    const edited = readme.replace(/with\s+\d+(\.\d+)? % of them/, 'with 99.9 % of them')
    expect(edited).not.toBe(readme)
    expect(renderFigures(edited)).not.toBe(edited)
  })
})
