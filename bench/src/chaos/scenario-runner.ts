/** Runs one scenario: servers, router, load, fault, then the figures and a check of what was left behind. */
import { createRouter } from '@pgroute/core'
import type { ChaosEnvironment } from './chaos-environment.js'
import { embeddedEnvironment } from './chaos-environment.js'
import { ChaosMetrics } from './chaos-metrics.js'
import { type DeploymentShape, type Front, shapeUnavailable, startFront } from './deployment-shape.js'
import { clientSockets, serverConnections } from './leak-check.js'
import { LoadDriver, setupSql } from './load-driver.js'
import type { Scenario, ScenarioReport } from './scenario.js'

/** Outcome of one scenario run. */
export interface ScenarioResult {
  readonly scenario: Scenario
  /** Absent when the scenario was skipped or could not run. */
  readonly report?: ScenarioReport
  /** Why it fails its rule (empty: pass). */
  readonly failures: readonly string[]
  /** Why it was skipped. */
  readonly skipped?: string
}

const loadOptions = { workers: 8, paceMs: 20 }
const settleGraceMs = 10_000
const endLimitMs = 15_000
/** Time the scenario's own actions may take beyond the load duration before the run is abandoned. */
const injectSlackMs = 60_000

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Resolves to `promise`'s value, or `undefined` once `ms` passed. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Runs `scenario` for `durationMs` of load (or its minimum) and judges it, with the router reaching the servers
 * `via` a deployment shape (default: directly). Always stops its servers and proxies.
 */
export async function runScenario(
  scenario: Scenario,
  durationMs: number,
  via: DeploymentShape = 'direct',
): Promise<ScenarioResult> {
  const skipped = scenario.unavailable?.() ?? shapeUnavailable(via) ?? scenario.unsupportedVia?.[via]
  if (skipped) return { scenario, failures: [], skipped }
  const duration = Math.max(durationMs, scenario.minDurationMs ?? 0)
  let env: ChaosEnvironment
  try {
    env = await (scenario.environment ?? embeddedEnvironment)()
  } catch (error) {
    return { scenario, failures: [`the servers did not start: ${messageOf(error)}`] }
  }
  let front: Front | undefined
  try {
    front = await startFront(via, env.nodes)
    const report = await measure(scenario, env, duration, front)
    const failures = [...generalFailures(report, scenario), ...scenario.judge(report)]
    return { scenario, report, failures }
  } catch (error) {
    return {
      scenario,
      failures: [`the run failed: ${error instanceof Error ? error.message : String(error)}`],
    }
  } finally {
    await front?.stop()
    await env.stop()
  }
}

async function measure(
  scenario: Scenario,
  env: ChaosEnvironment,
  duration: number,
  front: Front,
): Promise<ScenarioReport> {
  await env.primary.query(setupSql)
  await env.settle()
  const metrics = new ChaosMetrics()
  const ports = new Map(env.nodes.map((node) => [node.port, node.name]))
  // Behind proxies the router names each node by its proxy's address.
  for (const node of env.nodes) ports.set(Number(new URL(front.urlOf(node)).port), node.name)
  const nameOf = (routerName: string) => ports.get(Number(/:(\d+)\//.exec(routerName)?.[1])) ?? routerName
  const router = createRouter({
    primary: front.urlOf(env.primary),
    replicas: env.replicas.map((node) => front.urlOf(node)),
    routeEvents: true,
    ...scenario.routerOptions,
  })
  router.on('route', (event) => metrics.routes.push({ node: nameOf(event.node), at: performance.now() }))
  router.on('node-state', (event) => {
    metrics.stateEvents.push({
      node: nameOf(event.node),
      at: performance.now(),
      to: event.to,
      reason: event.reason,
    })
    if (event.to === 'down') {
      metrics.downEvents.push({ node: nameOf(event.node), at: performance.now(), reason: event.reason })
    }
  })
  await within(router.ready(), 10_000)
  const load = new LoadDriver(router, metrics, loadOptions)
  const started = performance.now()
  load.start()
  const injected = within(
    scenario.inject({ env, router, metrics, load, durationMs: duration, wait: sleep }).then(() => true),
    duration + injectSlackMs,
  )
  const rest = started + duration - performance.now()
  if (rest > 0) await sleep(rest)
  if (!(await injected)) metrics.notes.push('the fault actions did not finish in time')
  const loadEndedAt = performance.now()
  const unfinished = await load.stop(settleGraceMs)
  const endStarted = performance.now()
  const ended = await within(
    router.end().then(() => true),
    endLimitMs,
  )
  const endMs = ended ? performance.now() - endStarted : undefined
  const lostKeys = await lostWrites(env, metrics.acknowledged)
  // This process's sockets, to the servers and to the proxies, are counted first; the proxies' own server
  // connections outlive the router by design (that is pooling), so they close with the proxies before the count.
  const sockets = await settledClientSockets(new Set(ports.keys()))
  await front.stop()
  return {
    metrics,
    unfinished,
    endMs,
    serverConnections: await serverConnections(env.nodes),
    clientSockets: sockets,
    lostWrites: lostKeys.size,
    lostKeys,
    loadEndedAt,
  }
}

/** {@link clientSockets}, polled for up to 3 s until it reaches 0 (a socket closes a moment after `end()`). */
async function settledClientSockets(ports: ReadonlySet<number>, settleMs = 3000): Promise<number> {
  const deadline = performance.now() + settleMs
  for (;;) {
    const open = clientSockets(ports)
    if (open === 0 || performance.now() > deadline) return open
    await sleep(100)
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Keys of acknowledged writes missing on the node that is the primary at the end. */
async function lostWrites(env: ChaosEnvironment, keys: readonly string[]): Promise<Set<string>> {
  const primary = await env.currentPrimary()
  const lost = new Set(keys)
  for (let offset = 0; offset < keys.length; offset += 5000) {
    const chunk = keys.slice(offset, offset + 5000)
    const { rows } = await primary.query<{ key: string }>('SELECT key FROM chaos_rows WHERE key = ANY($1)', [
      chunk,
    ])
    for (const { key } of rows) lost.delete(key)
  }
  return lost
}

/**
 * What every scenario must meet: nothing left hanging or open, no acknowledged write lost (unless the scenario
 * loses writes on purpose and judges them itself).
 */
function generalFailures(report: ScenarioReport, scenario: Scenario): string[] {
  const failures: string[] = []
  if (report.unfinished > 0) failures.push(`${report.unfinished} calls never settled`)
  if (report.endMs === undefined) failures.push(`router.end() did not resolve within ${endLimitMs} ms`)
  if (report.serverConnections > 0) failures.push(`${report.serverConnections} server connections left`)
  if (report.clientSockets > 0) failures.push(`${report.clientSockets} client sockets left`)
  if (report.lostWrites > 0 && !scenario.losesWrites)
    failures.push(`${report.lostWrites} acknowledged writes lost`)
  return failures
}
