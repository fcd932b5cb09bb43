import type { Cluster } from '@pgroute/cluster'
import {
  requireControl,
  routerOptions,
  type SkippableContext,
  startTestCluster,
  waitFor,
} from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'

/** A cluster (primary + two replicas), a router over it and a `signups` table every node has. */
export interface Harness {
  readonly cluster: Cluster
  readonly router: Router
  /** Which node a port belongs to: `primary` or `replica`. */
  roleOf(port: number): 'primary' | 'replica'
  /** Inserts a signup in the current session (if any); resolves to its id. */
  signUp(email: string): Promise<number>
  /** Reads signup `id` in the current session: whether it was found, and which kind of node answered. */
  readSignup(id: number): Promise<{ found: boolean; role: 'primary' | 'replica' }>
  stop(): Promise<void>
}

/** `replicaOptions` as `startCluster` takes them: `[{}, { applyDelay: '2s' }]` for a replica 2 s late. */
export async function startHarness(
  replicaOptions: ReadonlyArray<{ readonly applyDelay?: string }> = [{}, { applyDelay: '2s' }],
): Promise<Harness> {
  const cluster = await startTestCluster({
    replicas: replicaOptions.length,
    replicaOptions: [...replicaOptions],
  })
  const router = createRouter(routerOptions(cluster))
  try {
    await cluster.primary.query(
      'CREATE TABLE IF NOT EXISTS signups (id serial PRIMARY KEY, email text NOT NULL)',
    )
    await cluster.waitForReplication({ replicas: cluster.replicas })
    await router.ready()
  } catch (error) {
    await router.end()
    await cluster.stop()
    throw error
  }
  const primaryPort = cluster.primary.port
  const roleOf = (port: number) => (port === primaryPort ? 'primary' : 'replica') as 'primary' | 'replica'
  return {
    cluster,
    router,
    roleOf,
    async signUp(email) {
      const { rows } = await router.query<{ id: number }>(
        'INSERT INTO signups (email) VALUES ($1) RETURNING id',
        [email],
      )
      return rows[0]!.id
    },
    async readSignup(id) {
      // One statement: the node that answers is the node that looked for the row.
      const { rows } = await router.query<{ found: boolean; port: number }>(
        'SELECT EXISTS (SELECT 1 FROM signups WHERE id = $1) AS found, inet_server_port() AS port',
        [id],
      )
      return { found: rows[0]!.found, role: roleOf(rows[0]!.port) }
    },
    async stop() {
      await router.end()
      await cluster.stop()
    },
  }
}

/**
 * Pauses WAL replay on every replica and waits until it has stopped: a write after this is on no replica. Skips
 * the test, with the reason, on an external cluster.
 */
export async function pauseReplicas(h: Harness, context: SkippableContext): Promise<void> {
  requireControl(context, 'pauses WAL replay on the replicas')
  await Promise.all(
    h.cluster.replicas.map(async (replica) => {
      await replica.pauseReplay()
      await waitFor(
        async () => {
          const { rows } = await replica.query<{ state: string }>(
            'SELECT pg_get_wal_replay_pause_state() AS state',
          )
          return rows[0]?.state === 'paused'
        },
        10_000,
        `${replica.name} to pause replay`,
      )
    }),
  )
}
