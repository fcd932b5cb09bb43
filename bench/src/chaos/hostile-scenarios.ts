/** Scenarios where callers misbehave: hostile input next to honest load, and `router.end()` while calls run. */
import type { Router } from '@pgroute/core'
import type { ChaosMetrics } from './chaos-metrics.js'
import { errorClass } from './chaos-metrics.js'
import { unaffected } from './pass-rules.js'
import type { Scenario } from './scenario.js'

const forgedToken = 'FFFFFFFF/FFFFFFFF'
const malformedTokens: ReadonlyArray<readonly [string, unknown]> = [
  ['garbage', 'garbage'],
  ['1/2/3', '1/2/3'],
  ['9 hex digits', 'FFFFFFFFF/0'],
  ['Object.create(null)', Object.create(null)],
  ['42', 42],
  ['{}', {}],
]
const megabyteStatement = `SELECT length('${'x'.repeat(1 << 20)}') AS n`

/** The hostile calls, cycled through; each resolves to what came back, in words for the tally. */
const hostileCalls: ReadonlyArray<(router: Router) => Promise<string>> = [
  ...['Connection terminated', 'Connection terminated unexpectedly', 'timeout expired'].map(
    (text) => (router: Router) => outcome(`'${text}' as bind value`, router.query('SELECT $1::int', [text])),
  ),
  (router) => outcome('NUL byte in a literal', router.query("SELECT 'a\u0000b' AS v")),
  (router) => outcome('1 MB statement', router.query(megabyteStatement)),
  ...malformedTokens.map(
    ([name, token]) =>
      (router: Router) =>
        outcome(
          `token ${name}`,
          router.session(async () => {}, { token: token as string }),
        ),
  ),
  async (router) => {
    try {
      return await router.session(
        async () => {
          const { rows } = await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
          const token = await router.token()
          const where = rows[0]?.r ? 'read on a replica' : 'read on the primary'
          return `forged token accepted: ${where}, token() ${token === forgedToken ? 'handed it back' : 'clamped it'}`
        },
        { token: forgedToken },
      )
    } catch (error) {
      return `forged token rejected: ${errorClass(error)}`
    }
  },
]

async function outcome(what: string, call: Promise<unknown>): Promise<string> {
  try {
    await call
    return `${what}: accepted`
  } catch (error) {
    return `${what}: ${errorClass(error)}`
  }
}

/** Why the hostile tallies fail the rule: untyped token errors, forged tokens honoured, nodes marked down. */
function hostileFailures(metrics: ChaosMetrics): string[] {
  const failures: string[] = []
  for (const [what, count] of metrics.hostile) {
    const typedRejection = /: (PgRouteError|ConfigError):PGROUTE_/.test(what)
    if (what.startsWith('token ') && !typedRejection) failures.push(`${count}× ${what}`)
    if (what.includes('read on the primary') || what.includes('handed it back'))
      failures.push(`${count}× ${what}`)
  }
  if (metrics.downEvents.length > 0) {
    const nodes = [...new Set(metrics.downEvents.map((event) => event.node))].join(', ')
    failures.push(`${metrics.downEvents.length} node-down events (${nodes}) though no node failed`)
  }
  return failures
}

export const hostileInput: Scenario = {
  name: 'hostile-input',
  summary:
    "10 hostile calls/s beside the load: error texts as bind values, NUL bytes, 1 MB statements, forged ('FFFFFFFF/FFFFFFFF') and malformed tokens",
  rule: '0 honest read/write errors, 0 stale, no node marked down, malformed tokens rejected typed, forged tokens rejected or clamped',
  async inject(context) {
    const { router, metrics } = context
    await context.wait(context.durationMs * 0.2)
    metrics.mark('fault')
    const until = performance.now() + context.durationMs * 0.6
    for (let call = 0; performance.now() < until; call++) {
      const hostile = hostileCalls[call % hostileCalls.length]!(router)
      const timeout = context.wait(10_000).then(() => 'no answer within 10 s')
      metrics.tallyHostile(await Promise.race([hostile, timeout]))
      await context.wait(100)
    }
    metrics.mark('healed')
  },
  judge: (report) => [...unaffected(report), ...hostileFailures(report.metrics)],
}

export const endUnderLoad: Scenario = {
  name: 'end-under-load',
  summary: 'router.end() at 40 % of the run while the callers keep calling',
  rule: 'end() resolves within 5 s, calls in flight finish, later calls fail typed (PGROUTE_CLOSED), nothing left open',
  async inject(context) {
    await context.wait(context.durationMs * 0.4)
    context.metrics.mark('fault')
    const started = performance.now()
    await context.router.end()
    context.metrics.notes.push(`router.end() took ${Math.round(performance.now() - started)} ms under load`)
    context.metrics.mark('healed')
  },
  judge(report) {
    const { metrics } = report
    const fault = metrics.marks.get('fault') ?? Number.POSITIVE_INFINITY
    const healed = metrics.marks.get('healed')
    const failures: string[] = []
    if (healed === undefined || healed - fault > 5000) failures.push('router.end() took over 5 s')
    const early = metrics.outcomes.filter((o) => o.error && o.startedAt < fault)
    if (early.length > 0) failures.push(`${early.length} calls started before end() failed`)
    const untyped = metrics.failures().filter((o) => o.error !== 'PgRouteError:PGROUTE_CLOSED')
    if (untyped.length > 0) {
      const kinds = [...new Set(untyped.map((o) => o.error))].join(', ')
      failures.push(`${untyped.length} calls failed other than PGROUTE_CLOSED (${kinds})`)
    }
    return failures
  },
}
