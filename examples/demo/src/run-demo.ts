import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Cluster, type DelayProxy, startCluster, startDelayProxy } from '@pgroute/cluster'
import { createRouter, type NodeStateEvent, type NodeStatus, type Router } from '@pgroute/core'
import { buildApp as buildDrizzleApp } from '@pgroute-examples/drizzle-app'
import { buildApp as buildKyselyApp } from '@pgroute-examples/kysely-app'
import { ApiClient } from './api-client.js'
import { type DemoOptions, type ResolvedDemoOptions, resolveDemoOptions } from './demo-options.js'
import type { DemoSummary } from './demo-summary.js'
import { LiveTable, type NodeRow } from './live-table.js'
import { StartupProgress } from './startup-progress.js'
import { WorkloadDriver } from './workload-driver.js'
import { median, WorkloadStats } from './workload-stats.js'

type App = Awaited<ReturnType<typeof buildKyselyApp>>

/** Where reads of a post that was not found are counted: the app's 404 answer does not say which server ran it. */
export const NOT_FOUND = 'post not found (server not reported)'

/**
 * Starts a primary and two replicas (replica-2 replaying WAL 2 s late; with `farReplica`, replica-1 behind a delay
 * proxy that puts it that far away), serves one example app on a free loopback port, drives traffic through its HTTP API for `duration` seconds while printing the node table each
 * second, then stops everything it started and returns what it saw.
 *
 * @example
 * ```ts
 * const summary = await runDemo({ app: 'drizzle', duration: 5, killReplica: true, output: false })
 * if (summary.staleReads > 0) throw new Error('a read missed its own write')
 * ```
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const resolved = resolveDemoOptions(options)
  const { output, signal } = resolved
  let cluster: Cluster | undefined
  let far: DelayProxy | undefined
  let router: Router | undefined
  let app: App | undefined
  const progress = new StartupProgress(output)
  try {
    progress.step('Starting PostgreSQL: a primary and 2 replicas (replica-2 replays WAL 2 s late)')
    cluster = await startCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }], signal })
    if (resolved.farReplicaMs !== undefined) {
      progress.step(`Putting replica-1 ${resolved.farReplicaMs} ms away (a delay proxy in front of it)`)
      far = await startDelayProxy(cluster.node('replica-1'), { delay: resolved.farReplicaMs })
    }
    progress.step('Connecting the router and checking each node once')
    router = createRouter({
      primary: cluster.primary.url,
      replicas: cluster.replicas.map((node) => ({
        name: node.name,
        connectionString: far && node.name === 'replica-1' ? far.url! : node.url,
      })),
    })
    await router.ready({ signal })
    progress.step(`Starting the ${resolved.app} example app (it creates its table)`)
    app = await (resolved.app === 'kysely' ? buildKyselyApp : buildDrizzleApp)({ router })
    await app.listen({ host: '127.0.0.1', port: 0 })
    progress.finish()
    const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    output?.write(
      `\nThe ${resolved.app} example app listens on ${baseUrl}: ${resolved.users} virtual users for ` +
        `${resolved.duration} s${resolved.killReplica ? ', killing replica-1 a third of the way in' : ''}` +
        `${resolved.tokens ? '' : ', authors NOT sending their tokens back'}` +
        `${far ? `, replica-1 ${far.delayMs} ms away` : ''}.\n\n`,
    )
    return await drive(resolved, cluster, router, baseUrl)
  } finally {
    progress.abandon()
    if (app) {
      const closing = app.close()
      // The workload has stopped: a connection still open is one whose request was cancelled (Ctrl-C), which
      // the server would otherwise wait for until its keep-alive timeout.
      app.server.closeAllConnections()
      await closing
    }
    await router?.end()
    await far?.close()
    await cluster?.stop()
  }
}

/** Runs the workload and the table, and the replica kill when asked; returns the summary. */
async function drive(
  options: ResolvedDemoOptions,
  cluster: Cluster,
  router: Router,
  baseUrl: string,
): Promise<DemoSummary> {
  const { duration, signal, output, farReplicaMs } = options
  const table = output ? new LiveTable(output) : undefined
  const started = performance.now()
  const elapsed = () => (performance.now() - started) / 1000
  const event = (text: string) => table?.event(elapsed(), text)
  const onNodeState = (e: NodeStateEvent) => event(`router: ${e.node} ${e.from} → ${e.to} (${e.reason})`)
  router.on('node-state', onNodeState)

  const driver = new WorkloadDriver({
    baseUrl,
    users: options.users,
    tokens: options.tokens,
    interrupt: signal,
  })
  const { stats } = driver
  const status = new ApiClient(baseUrl)
  const victim = cluster.replicas[0]!
  let chaos: Promise<void> | undefined
  let previous = { at: started, reads: new Map<number, number>() }

  const nodePort = (node: NodeStatus) =>
    node.role === 'primary' ? cluster.primary.port : cluster.node(node.name).port
  const showFrame = async () => {
    let nodes: NodeStatus[]
    try {
      const response = await status.request('GET', '/status')
      if (response.status !== 200) throw new Error(`answered ${response.status}`)
      nodes = response.body.nodes
    } catch (error) {
      if (!signal?.aborted) stats.error(`GET /status: ${(error as Error).message}`)
      return
    }
    const now = performance.now()
    const seconds = Math.max((now - previous.at) / 1000, 0.001)
    const recentReadMs = stats.takeRecentReadMs()
    const rows: NodeRow[] = nodes.map((node) => {
      const port = nodePort(node)
      const reads = stats.reads.get(port) ?? 0
      const name = node.role === 'primary' ? cluster.primary.name : node.name
      return {
        label: farReplicaMs !== undefined && name === 'replica-1' ? `${name} +${farReplicaMs}ms` : name,
        role: node.role,
        state: node.state,
        lagBytes: node.lagBytes,
        lagSeconds: node.lagSeconds,
        readRate: (reads - (previous.reads.get(port) ?? 0)) / seconds,
        readMs: median(recentReadMs.get(port)),
        reads,
        writes: stats.writes.get(port) ?? 0,
      }
    })
    previous = { at: now, reads: new Map(stats.reads) }
    table?.frame({
      elapsed: elapsed(),
      duration,
      title: `pgroute demo · ${options.app} app · ${options.users} virtual users`,
      requests: stats.requests,
      checks: stats.checks,
      stale: stats.stale,
      errors: stats.errors,
      rows,
    })
  }

  const killAndRestart = async () => {
    event(`stopping ${victim.name} (immediate shutdown: connections drop mid-query)`)
    try {
      await victim.stop({ mode: 'immediate' })
      event(`${victim.name} stopped; its reads move to the other nodes`)
      await sleep(Math.max(0, started + (duration * 2000) / 3 - performance.now()), undefined, { signal })
      event(`starting ${victim.name} again`)
      await victim.start()
      event(`${victim.name} is running again; the router brings it back once it is healthy`)
    } catch (error) {
      if (!signal?.aborted) stats.error(`restarting ${victim.name}: ${(error as Error).message}`)
    }
  }

  driver.start()
  try {
    for (let tick = 1; !signal?.aborted; tick++) {
      const wait = Math.max(0, started + Math.min(tick, duration) * 1000 - performance.now())
      await sleep(wait, undefined, { signal }).catch(() => {})
      if (signal?.aborted) break
      // A tick may land a hair early: allow for it, or the kill would wait a whole second more.
      if (options.killReplica && !chaos && elapsed() >= duration / 3 - 0.05) chaos = killAndRestart()
      if (elapsed() >= duration) break
      await showFrame()
    }
  } finally {
    await driver.stop()
    await chaos
    router.off('node-state', onNodeState)
  }
  const seconds = elapsed()
  await showFrame()
  table?.done()
  output?.write('\n')
  return summarize(options, cluster, stats, seconds, chaos ? victim.name : undefined)
}

function summarize(
  options: ResolvedDemoOptions,
  cluster: Cluster,
  stats: WorkloadStats,
  seconds: number,
  killedReplica: string | undefined,
): DemoSummary {
  const names = new Map(cluster.nodes.map((node) => [node.port, node.name]))
  const byNode = (counts: ReadonlyMap<number, number>) => {
    const result: Record<string, number> = Object.fromEntries(cluster.nodes.map((node) => [node.name, 0]))
    for (const [port, n] of counts) {
      const name = names.get(port) ?? NOT_FOUND
      result[name] = (result[name] ?? 0) + n
    }
    return result
  }
  const interrupted = options.signal?.aborted === true
  return {
    app: options.app,
    users: options.users,
    seconds,
    requests: stats.requests,
    readsByNode: byNode(stats.reads),
    writesByNode: byNode(stats.writes),
    readMsByNode: Object.fromEntries(
      cluster.nodes.flatMap((node) => {
        const ms = median(stats.readMs.get(node.port))
        return ms === undefined ? [] : [[node.name, ms]]
      }),
    ),
    farReplica:
      options.farReplicaMs === undefined ? undefined : { name: 'replica-1', delayMs: options.farReplicaMs },
    readAfterWriteChecks: stats.checks,
    staleReads: stats.stale,
    anonymousMisses: stats.anonymousMisses,
    errors: stats.errors,
    problems: [...stats.samples],
    killedReplica,
    tokens: options.tokens,
    interrupted,
    ok: !interrupted && stats.stale === 0 && stats.errors === 0 && WorkloadStats.total(stats.reads) > 0,
  }
}
