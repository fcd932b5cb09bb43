import type { Client } from 'pg'
import type { ClusterNode, NodeStatus } from './cluster-node.js'
import { lsnDiff, parseLsn } from './lsn.js'
import { pollUntil } from './poll.js'
import { createRedactor } from './redact.js'
import { withClient } from './sql-client.js'

interface StatusRow {
  in_recovery: boolean
  current_lsn: string | null
  receive_lsn: string | null
  replay_lsn: string | null
  replay_paused: boolean | null
  lag_seconds: string | null
}

// One statement for both roles; functions that fail on the other role sit in CASE branches that are not evaluated.
const statusSql = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END AS current_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()::text END AS receive_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS replay_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,
  CASE WHEN NOT pg_is_in_recovery() THEN NULL
       WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
       ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds`

/**
 * Queries one node's replication state. `primaryLsn` (the primary's current LSN, read before this call) turns the
 * replica's replay LSN into a lag in bytes. An unreachable node is reported, not thrown.
 */
export async function nodeStatus(node: ClusterNode, primaryLsn?: string): Promise<NodeStatus> {
  const base = { name: node.name, role: node.role, host: node.host, port: node.port }
  if (!node.running) return { ...base, reachable: false, error: 'not running' }
  try {
    const row = await withClient(node.connectionConfig, async (client) => {
      return (await client.query<StatusRow>(statusSql)).rows[0]!
    })
    const lagBytes =
      row.in_recovery && primaryLsn && row.replay_lsn
        ? Math.max(0, lsnDiff(primaryLsn, row.replay_lsn))
        : undefined
    return {
      ...base,
      reachable: true,
      inRecovery: row.in_recovery,
      ...(row.current_lsn === null ? {} : { currentLsn: row.current_lsn }),
      ...(row.receive_lsn === null ? {} : { receiveLsn: row.receive_lsn }),
      ...(row.replay_lsn === null ? {} : { replayLsn: row.replay_lsn }),
      ...(row.replay_paused === null ? {} : { replayPaused: row.replay_paused }),
      ...(lagBytes === undefined ? {} : { lagBytes }),
      ...(row.lag_seconds === null ? {} : { lagSeconds: Number(row.lag_seconds) }),
    }
  } catch (error) {
    const redact = createRedactor(node.connectionConfig.password)
    return {
      ...base,
      reachable: false,
      error: redact(error instanceof Error ? error.message : String(error)),
    }
  }
}

/**
 * Status of every node; the primary is queried first so that replicas' byte lag is measured against it, and its
 * `pg_stat_replication` gives the sync state of the replicas streaming from it.
 */
export async function nodesStatus(
  primary: ClusterNode,
  nodes: readonly ClusterNode[],
): Promise<NodeStatus[]> {
  const [primaryStatus, senders] = await Promise.all([nodeStatus(primary), syncStates(primary)])
  const others = await Promise.all(
    nodes.filter((node) => node !== primary).map((node) => nodeStatus(node, primaryStatus.currentLsn)),
  )
  return nodes.map((node) => {
    if (node === primary) return primaryStatus
    const status = others.shift()!
    const sender = senders.get(node.name)
    return sender ? { ...status, syncState: sender.sync_state, syncPriority: sender.sync_priority } : status
  })
}

interface SenderRow {
  application_name: string
  sync_state: NonNullable<NodeStatus['syncState']>
  sync_priority: number
}

/** The primary's WAL senders by application name (empty when it cannot be queried). */
async function syncStates(primary: ClusterNode): Promise<Map<string, SenderRow>> {
  if (!primary.running) return new Map()
  try {
    const { rows } = await primary.query<SenderRow>(
      'SELECT application_name, sync_state, sync_priority FROM pg_stat_replication',
    )
    return new Map(rows.map((row) => [row.application_name, row]))
  } catch {
    return new Map()
  }
}

/** Limits of the waits below. */
export interface WaitLimits {
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
}

/** Waits until every replica in `replicas` has replayed the primary's WAL flushed so far. */
export async function waitForReplay(
  primary: ClusterNode,
  replicas: readonly ClusterNode[],
  limits: WaitLimits,
): Promise<void> {
  if (replicas.length === 0) return
  const target = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn'))
    .rows[0]!
  const targetPosition = parseLsn(target.lsn)
  const controller = new AbortController()
  const signal = limits.signal ? AbortSignal.any([limits.signal, controller.signal]) : controller.signal
  try {
    await Promise.all(
      replicas.map((replica) =>
        withClient(replica.connectionConfig, async (client) => {
          let replayed = ''
          await pollUntil(
            async () => {
              replayed = await replayLsn(client)
              return replayed !== '' && parseLsn(replayed) >= targetPosition
            },
            {
              timeoutMs: limits.timeoutMs,
              signal,
              node: replica.name,
              describe: () =>
                `${replica.name} replayed up to ${replayed || 'nothing'}, waiting for ${target.lsn}`,
            },
          )
        }),
      ),
    )
  } finally {
    controller.abort() // Stops the other replicas' polling once one has failed.
  }
}

async function replayLsn(client: Client): Promise<string> {
  const { rows } = await client.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')
  return rows[0]?.lsn ?? ''
}

/** Waits until the primary's `pg_stat_replication` shows each of `applicationNames` streaming. */
export async function waitForStreaming(
  primary: ClusterNode,
  applicationNames: readonly string[],
  limits: WaitLimits,
): Promise<void> {
  if (applicationNames.length === 0) return
  let streaming: string[] = []
  await withClient(primary.connectionConfig, (client) =>
    pollUntil(
      async () => {
        const { rows } = await client.query<{ application_name: string }>(
          `SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'`,
        )
        streaming = rows.map((row) => row.application_name)
        return applicationNames.every((name) => streaming.includes(name))
      },
      {
        ...limits,
        intervalMs: 25,
        describe: () =>
          `replicas streaming from ${primary.name}: [${streaming.join(', ')}], expected [${applicationNames.join(', ')}]`,
      },
    ),
  )
}
