/**
 * The Patroni failover with the router behind HAProxy, configured as docs/production.md recommends: the primary
 * through a listener that Patroni's `/primary` check points at the leader, and each member as a replica through a
 * listener of its own checked with `/replica?lag=16MB` (one server per node; never one listener balancing over the
 * replicas). Skipped where Patroni or HAProxy is not installed.
 */
import { type HaproxyListener, haproxyUnavailable, startHaproxy } from '@pgroute/cluster'
import pg from 'pg'
import type { ChaosNode } from './chaos-environment.js'
import { markOf, noErrors, noStaleReads, writesRecovered } from './pass-rules.js'
import {
  isPatroniEnvironment,
  type PatroniEnvironment,
  patroniEnvironment,
  patroniUnavailable,
} from './patroni-environment.js'
import type { Scenario } from './scenario.js'

const writeRecoveryMs = 3000
const checkIntervalMs = 500

/** A member of the Patroni cluster with its REST API port. */
type Member = ChaosNode & { readonly apiPort: number }

/** `member` as reached through `listener`, named `name`. */
function through(listener: HaproxyListener, name: string, member: Member): ChaosNode {
  const connectionConfig = { ...member.connectionConfig, host: listener.host, port: listener.port }
  return {
    name,
    port: listener.port,
    url: listener.urlFor(member.url),
    connectionConfig,
    running: true,
    async query(sql: string, params?: unknown[]) {
      const client = new pg.Client({ ...connectionConfig, connectionTimeoutMillis: 5000 })
      client.on('error', () => {})
      await client.connect()
      try {
        return await client.query(sql, params)
      } finally {
        await client.end().catch(() => {})
      }
    },
  } as ChaosNode
}

/** The Patroni cluster with HAProxy listeners in front: the router is given only the listeners' addresses. */
async function patroniHaproxyEnvironment(): Promise<PatroniEnvironment> {
  const patroni = await patroniEnvironment()
  const listeners: HaproxyListener[] = []
  const stop = async () => {
    await Promise.all(listeners.map((listener) => listener.stop()))
    await patroni.stop()
  }
  try {
    const members = patroni.nodes as readonly Member[]
    const servers = members.map((member) => ({
      name: member.name,
      host: member.connectionConfig.host,
      port: member.port,
      checkPort: member.apiPort,
    }))
    const primary = await startHaproxy(servers, {
      balance: 'first',
      httpCheck: { path: '/primary', intervalMs: checkIntervalMs },
    })
    listeners.push(primary)
    const replicas: ChaosNode[] = []
    for (const [index, server] of servers.entries()) {
      const listener = await startHaproxy([server], {
        httpCheck: { path: '/replica?lag=16MB', intervalMs: checkIntervalMs },
      })
      listeners.push(listener)
      replicas.push(through(listener, `replica-${server.name}`, members[index]!))
    }
    // A few checks, so that each listener forwards only to what its check allows.
    await new Promise((resolve) => setTimeout(resolve, 4 * checkIntervalMs))
    return {
      ...patroni,
      primary: through(primary, 'primary-listener', members[0]!),
      replicas,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

export const patroniHaproxyFailover: Scenario = {
  name: 'patroni-haproxy',
  summary:
    'as patroni-failover, the router given only HAProxy listeners: the primary by `/primary`, each member by `/replica?lag=16MB` (one server per listener)',
  rule: `writes succeed on the new leader ${writeRecoveryMs / 1000} s after patronictl returned; 0 read errors; 0 stale`,
  minDurationMs: 20_000,
  unavailable: () => patroniUnavailable() ?? haproxyUnavailable(),
  unsupportedVia: {
    'pgbouncer-transaction':
      'the router is given HAProxy listeners here; PgBouncer in front of them is not built',
    'pgbouncer-session':
      'the router is given HAProxy listeners here; PgBouncer in front of them is not built',
  },
  environment: patroniHaproxyEnvironment,
  async inject(context) {
    const env = context.env
    if (!isPatroniEnvironment(env)) throw new Error('patroni-haproxy needs the Patroni environment')
    await context.wait(context.durationMs * 0.35)
    context.metrics.mark('fault')
    const started = performance.now()
    await env.failover('node2')
    context.metrics.mark('healed')
    context.metrics.notes.push(
      `patronictl failover returned after ${Math.round(performance.now() - started)} ms`,
    )
  },
  judge(report) {
    const healed = markOf(report, 'healed')
    return [
      ...writesRecovered(report, healed + writeRecoveryMs),
      ...noErrors(report, 'read'),
      ...noStaleReads(report),
    ]
  },
}
