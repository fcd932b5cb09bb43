/**
 * What the router shows of synchronous replication. The contract (#24): `status()` names each replica's
 * sync state as the primary's `pg_stat_replication` reports it (`sync`, `potential`, `quorum`, `async`), on clusters
 * with `FIRST 1`, `ANY 1` and no synchronous standby.
 */
import { type Cluster, type StartClusterOptions, startCluster } from '@pgroute/cluster'
import { clusterEnvConfigured, requireControl } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Router } from '../src/index.js'
import { routerFor, waitFor } from './helpers/cluster-helpers.js'

const local = !clusterEnvConfigured()
/** Probes a heavily loaded 2-core machine does not time out (FAST_HEALTH's 150 ms is too tight there). */
const health = { intervalMs: 500, timeoutMs: 400, maxBackoffMs: 1000 }

/** The sync state each replica has in the primary's pg_stat_replication, by node name. */
async function serverSyncStates(cluster: Cluster): Promise<Record<string, string>> {
  const { rows } = await cluster.primary.query<{ application_name: string; sync_state: string }>(
    'SELECT application_name, sync_state FROM pg_stat_replication ORDER BY application_name',
  )
  return Object.fromEntries(rows.map((row) => [row.application_name, row.sync_state]))
}

/** `syncState` of each replica row of `router.status()`. */
function routerSyncStates(router: Router): Record<string, unknown> {
  return Object.fromEntries(
    router
      .status()
      .filter((row) => row.role === 'replica')
      .map((row) => [row.name, row.syncState]),
  )
}

const modes: ReadonlyArray<{
  readonly title: string
  readonly options: StartClusterOptions
  readonly expected: Record<string, string>
}> = [
  {
    title: 'FIRST 1 ("replica-1", "replica-2")',
    options: {
      replicaOptions: [{ synchronous: true }, { synchronous: true }],
      synchronousMethod: 'first',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
    },
    expected: { 'replica-1': 'sync', 'replica-2': 'potential' },
  },
  {
    title: 'ANY 1 ("replica-1", "replica-2")',
    options: {
      replicaOptions: [{ synchronous: true }, { synchronous: true }],
      synchronousMethod: 'any',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
    },
    expected: { 'replica-1': 'quorum', 'replica-2': 'quorum' },
  },
  {
    title: 'no synchronous standby',
    options: { replicas: 2 },
    expected: { 'replica-1': 'async', 'replica-2': 'async' },
  },
]

describe.each(modes)('status() on a cluster with $title', ({ options, expected }) => {
  let cluster: Cluster
  let router: Router

  beforeAll(async () => {
    if (!local) return
    cluster = await startCluster(options)
    router = routerFor(cluster, { healthCheck: health })
    await router.ready()
    await waitFor(
      async () => JSON.stringify(await serverSyncStates(cluster)) === JSON.stringify(expected),
      15_000,
      `pg_stat_replication to show ${JSON.stringify(expected)}`,
    )
  })

  afterAll(async () => {
    await router?.end()
    await cluster?.stop()
  })

  it('the primary reports these sync states (the premise)', async (context) => {
    requireControl(context, 'synchronous standbys')
    expect(await serverSyncStates(cluster)).toEqual(expected)
    await waitFor(() => router.status().every((row) => row.state === 'up'), 10_000, 'every node up')
  })

  it('names each replica\u2019s sync state', async (context) => {
    requireControl(context, 'synchronous standbys')
    await waitFor(
      () => JSON.stringify(routerSyncStates(router)) === JSON.stringify(expected),
      5000,
      `status() to show ${JSON.stringify(expected)}`,
    )
    expect(routerSyncStates(router)).toEqual(expected)
  })
})
