/**
 * `pnpm chaos`: fault and topology scenarios on real loopback clusters under mixed load through the public router
 * API, one table row each with a PASS/FAIL against its rule. Exit code 1 when any row fails.
 */
import os from 'node:os'
import { parseArgs } from 'node:util'
import { type DeploymentShape, shapes } from './deployment-shape.js'
import type { Scenario } from './scenario.js'
import { runScenario, type ScenarioResult } from './scenario-runner.js'
import { scenarios } from './scenarios.js'
import { formatDetails, formatTable } from './table-printer.js'

const usage = `Usage: pnpm chaos [--only <scenario>[,<scenario>...]] [--duration <seconds>] [--via <shape>] [--list]

Runs each scenario on a fresh 1 + 2 loopback cluster under mixed load (reads, writes, read-your-writes sessions
carrying tokens, transactions) through createRouter() from @pgroute/core, and prints one row per scenario.

  --only       run only these scenarios (repeat or comma-separate)
  --duration   seconds of load per scenario (default 15; some scenarios need more and take it)
  --via        what stands between the router and the servers: ${shapes.join(', ')} (default direct);
               pgbouncer-*: one PgBouncer per server (the system's pgbouncer, default settings) in that pooling mode
  --list       list the scenarios with their pass rules and exit
  --help       this text

Scenarios:
${scenarios.map((s) => `  ${s.name.padEnd(30)} ${s.summary}\n  ${''.padEnd(30)} pass: ${s.rule}`).join('\n')}
`

function parseCommandLine(): { selected: Scenario[]; durationMs: number; via: DeploymentShape } | undefined {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      duration: { type: 'string' },
      via: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help || values.list) {
    console.log(usage)
    return undefined
  }
  const durationSeconds = Number(values.duration ?? 15)
  if (!Number.isFinite(durationSeconds) || durationSeconds < 5 || durationSeconds > 600) {
    throw new Error(`--duration must be a number of seconds from 5 to 600, got ${values.duration}`)
  }
  const wanted = values.only?.flatMap((names) => names.split(',')).filter(Boolean)
  const unknown = wanted?.filter((name) => !scenarios.some((s) => s.name === name)) ?? []
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`,
    )
  }
  const selected = wanted ? scenarios.filter((s) => wanted.includes(s.name)) : [...scenarios]
  const via = (values.via ?? 'direct') as DeploymentShape
  if (!shapes.includes(via)) throw new Error(`--via must be one of ${shapes.join(', ')}, got ${values.via}`)
  return { selected, durationMs: durationSeconds * 1000, via }
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>
  try {
    parsed = parseCommandLine()
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    console.error(usage)
    return 2
  }
  if (!parsed) return 0
  const cpus = os.cpus()
  console.log(
    `pgroute chaos — ${new Date().toISOString()} — node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, load average ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}, ${parsed.durationMs / 1000} s of load per scenario, via ${parsed.via}\n`,
  )
  const results: ScenarioResult[] = []
  for (const scenario of parsed.selected) {
    const started = performance.now()
    const result = await runScenario(scenario, parsed.durationMs, parsed.via)
    const verdict = result.skipped ? 'SKIP' : result.failures.length === 0 ? 'PASS' : 'FAIL'
    console.log(`${scenario.name}: ${verdict} (${((performance.now() - started) / 1000).toFixed(1)} s)`)
    results.push(result)
  }
  console.log(`\n${formatTable(results)}\n\n${formatDetails(results)}`)
  return results.some((result) => !result.skipped && result.failures.length > 0) ? 1 : 0
}

process.exitCode = await main()
