/**
 * What a server spends on its clients, sampled from the server itself for the `fleet` bench: its client
 * connections by `application_name` (pg_stat_activity), the statements it completed by kind (pg_stat_statements,
 * which the cluster preloads), and the CPU time of each backend process (/proc/<pid>/schedstat). Two samples
 * taken a window apart give connections held, statements per second and CPU per second, attributed to the
 * router's probes (`pgroute-monitor`), its own control statements (`pgroute-control`) and the application.
 */
import type { ClusterNode } from '@pgroute/cluster'
import pg from 'pg'
import { cpuNanos } from './proc-stat.js'

/** Who a backend or a statement belongs to. */
export type Owner = 'monitor' | 'control' | 'app'

/** `application_name` of the router's health probe connections, its control connections, and the fleet's pools. */
export const APPLICATION_NAMES: Readonly<Record<Owner, string>> = {
  monitor: 'pgroute-monitor',
  control: 'pgroute-control',
  app: 'pgroute-fleet-app',
}

/**
 * Which statements are whose, by their normalised text in pg_stat_statements: the probe reads
 * `pg_is_in_recovery() AS in_recovery` (health/node-probe.ts), the control connection reads WAL positions as
 * `...::text AS lsn` (session/position-lookups.ts), the fleet's application touches `fleet_counters`.
 */
function ownerOfStatement(query: string): Owner | undefined {
  if (query.includes('AS in_recovery')) return 'monitor'
  if (/pg_(current_wal_insert|last_wal_replay)_lsn\(\)::text AS lsn/.test(query)) return 'control'
  if (query.includes('fleet_counters')) return 'app'
  return undefined
}

function ownerOfBackend(applicationName: string): Owner | undefined {
  for (const [owner, name] of Object.entries(APPLICATION_NAMES)) {
    if (name === applicationName) return owner as Owner
  }
  return undefined
}

/** One sample of one server. */
export interface ServerSample {
  /** `performance.now()` when taken. */
  readonly at: number
  /** Client backends by owner (others: `undefined` key not kept), with the state of each. */
  readonly backends: ReadonlyArray<{
    readonly pid: number
    readonly owner: Owner | undefined
    readonly state: string
  }>
  /** Statements completed so far, by owner (pg_stat_statements `calls`). */
  readonly calls: Readonly<Record<Owner, number>>
  /** CPU time of each backend so far, in nanoseconds, by pid. */
  readonly cpu: ReadonlyMap<number, number>
}

/** What a server spent between two samples. */
export interface ServerCost {
  /** Client backends open at the end, by owner; `total` counts every client backend but the sampler's. */
  readonly connections: Readonly<Record<Owner | 'total', number>>
  /** Statements completed per second, by owner. */
  readonly statementsPerSecond: Readonly<Record<Owner, number>>
  /** CPU time of the owner's backends, in milliseconds per second of the window. */
  readonly cpuMsPerSecond: Readonly<Record<Owner, number>>
  /** CPU time of the owner's backends per statement they completed, in microseconds. */
  readonly cpuMicrosPerStatement: Readonly<Record<Owner, number>>
}

const OWNERS: readonly Owner[] = ['monitor', 'control', 'app']

const ACTIVITY_SQL = `SELECT pid, application_name, coalesce(state, '') AS state FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`
const STATEMENTS_SQL = 'SELECT query, calls FROM pg_stat_statements'

/** A connection of its own to one server, taking samples. */
export class ServerSampler {
  readonly node: string
  readonly #client: pg.Client

  private constructor(node: string, client: pg.Client) {
    this.node = node
    this.#client = client
  }

  /** Connects to `node` (pg_stat_statements must be installed in its database). */
  static async connect(node: ClusterNode): Promise<ServerSampler> {
    const client = new pg.Client({ ...node.connectionConfig, application_name: 'pgroute-bench-sampler' })
    client.on('error', () => {}) // the server's goodbye when the cluster stops
    await client.connect()
    return new ServerSampler(node.name, client)
  }

  /** Takes a sample: connections, statement counts, CPU time of every client backend. */
  async sample(): Promise<ServerSample> {
    const activity = await this.#client.query<{ pid: number; application_name: string; state: string }>(
      ACTIVITY_SQL,
    )
    const statements = await this.#client.query<{ query: string; calls: string }>(STATEMENTS_SQL)
    const calls: Record<Owner, number> = { monitor: 0, control: 0, app: 0 }
    for (const row of statements.rows) {
      const owner = ownerOfStatement(row.query)
      if (owner) calls[owner] += Number(row.calls)
    }
    const cpu = new Map<number, number>()
    for (const { pid } of activity.rows) {
      const nanos = cpuNanos(pid)
      if (nanos !== undefined) cpu.set(pid, nanos)
    }
    return {
      at: performance.now(),
      backends: activity.rows.map((row) => ({
        pid: row.pid,
        owner: ownerOfBackend(row.application_name),
        state: row.state,
      })),
      calls,
      cpu,
    }
  }

  async close(): Promise<void> {
    await this.#client.end().catch(() => {})
  }
}

/**
 * What the server spent from `start` to `end`: connections open at the end, statements and backend CPU per
 * second, by owner. A backend that opened during the window counts all its CPU (its start-up included); one
 * that closed during it is lost (not counted).
 */
export function serverCost(start: ServerSample, end: ServerSample): ServerCost {
  const seconds = (end.at - start.at) / 1000
  const connections = { monitor: 0, control: 0, app: 0, total: end.backends.length }
  const cpuNanosByOwner: Record<Owner, number> = { monitor: 0, control: 0, app: 0 }
  for (const backend of end.backends) {
    if (backend.owner === undefined) continue
    connections[backend.owner]++
    const used = (end.cpu.get(backend.pid) ?? 0) - (start.cpu.get(backend.pid) ?? 0)
    cpuNanosByOwner[backend.owner] += Math.max(0, used)
  }
  const per = <T>(value: (owner: Owner) => T) =>
    Object.fromEntries(OWNERS.map((owner) => [owner, value(owner)])) as Record<Owner, T>
  const done = per((owner) => end.calls[owner] - start.calls[owner])
  return {
    connections,
    statementsPerSecond: per((owner) => done[owner] / seconds),
    cpuMsPerSecond: per((owner) => cpuNanosByOwner[owner] / 1e6 / seconds),
    cpuMicrosPerStatement: per((owner) =>
      done[owner] > 0 ? cpuNanosByOwner[owner] / 1000 / done[owner] : 0,
    ),
  }
}
