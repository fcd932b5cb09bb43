import type { Cluster } from '@pgroute/cluster'
import { startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RoutedClient, Router } from '../src/index.js'
import { portOf, routerFor, WHO } from './helpers/cluster-helpers.js'

/*
 * Learned routing on a real hot standby: what the text cannot tell (a user function that writes, a read of an
 * UNLOGGED table) is refused by the replica once, then sent straight to the primary.
 */

let cluster: Cluster
let primaryPort: number

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 })
  primaryPort = cluster.primary.port
  await cluster.primary.query(`
    CREATE TABLE jobs (id bigserial PRIMARY KEY, task text);
    CREATE FUNCTION add_job(task text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
      DECLARE new_id bigint;
      BEGIN INSERT INTO jobs (task) VALUES (task) RETURNING id INTO new_id; RETURN new_id; END $$;
    CREATE UNLOGGED TABLE session_cache (key text PRIMARY KEY, value text);
    INSERT INTO session_cache VALUES ('a', 'cached');`)
  await cluster.waitForReplication()
})

afterAll(async () => {
  await cluster?.stop()
})

function refusedByReplicas(router: Router): number {
  return router
    .status()
    .filter((row) => row.role === 'replica')
    .reduce((sum, row) => sum + row.rerouted, 0)
}

async function jobCount(): Promise<number> {
  const { rows } = await cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs')
  return rows[0]!.n
}

async function withRouter(options: Parameters<typeof routerFor>[1], fn: (router: Router) => Promise<void>) {
  const router = routerFor(cluster, options)
  try {
    await router.ready()
    await fn(router)
  } finally {
    await router.end()
  }
}

describe('learned routing', () => {
  it('a writing SELECT fn() costs one refusal, then goes straight to the primary', async () => {
    await withRouter({ routeEvents: true }, async (router) => {
      const sql = 'SELECT add_job($1) AS id, inet_server_port() AS port'
      expect(router.classify(sql)).toEqual({ target: 'replica', reason: 'read' })
      const reasons: string[] = []
      router.on('route', (event) => reasons.push(event.reason))
      const before = await jobCount()
      for (let i = 0; i < 20; i++) expect(portOf(await router.query(sql, [`task ${i}`]))).toBe(primaryPort)
      expect(await jobCount()).toBe(before + 20) // each call ran exactly once
      expect(refusedByReplicas(router)).toBe(1)
      expect(reasons.filter((reason) => reason === 'learned:read-only')).toHaveLength(19)
      expect(router.classify(sql)).toEqual({ target: 'primary', reason: 'learned:read-only' })
      expect(router.reroutedStatements()).toEqual([{ statement: sql, count: 1, learned: 'read-only' }])
      // Other texts still go to the replica.
      expect(portOf(await router.query(WHO))).not.toBe(primaryPort)
    })
  })

  it('a read of an UNLOGGED table (0A000 on a standby) is learned too', async () => {
    await withRouter({}, async (router) => {
      const sql = `SELECT value, inet_server_port() AS port FROM session_cache WHERE key = 'a'`
      for (let i = 0; i < 10; i++) {
        const result = await router.query(sql)
        expect(result.rows[0]).toMatchObject({ value: 'cached' })
        expect(portOf(result)).toBe(primaryPort)
      }
      expect(refusedByReplicas(router)).toBe(1)
      expect(router.reroutedStatements()).toEqual([{ statement: sql, count: 1, learned: 'unlogged' }])
    })
  })

  it('a refusal through a pinned pool client is learned for every later caller', async () => {
    await withRouter({}, async (router) => {
      const sql = `SELECT add_job('pinned') AS id, inet_server_port() AS port`
      const client = (await router.pool.connect()) as unknown as RoutedClient
      try {
        expect(portOf(await client.query(WHO))).not.toBe(primaryPort)
        expect(portOf(await client.query(sql))).toBe(primaryPort)
      } finally {
        client.release()
      }
      expect(portOf(await router.query(sql))).toBe(primaryPort)
      expect(portOf(await router.pool.query(sql))).toBe(primaryPort)
      expect(refusedByReplicas(router)).toBe(1)
    })
  })

  it('learnRouting: false re-runs every refused call', async () => {
    await withRouter({ learnRouting: false }, async (router) => {
      const sql = 'SELECT add_job($1) AS id, inet_server_port() AS port'
      const before = await jobCount()
      for (let i = 0; i < 5; i++) expect(portOf(await router.query(sql, ['unlearned']))).toBe(primaryPort)
      expect(await jobCount()).toBe(before + 5)
      expect(refusedByReplicas(router)).toBe(5)
      expect(router.classify(sql)).toEqual({ target: 'replica', reason: 'read' })
      expect(router.reroutedStatements()).toEqual([{ statement: sql, count: 5 }])
    })
  })
})
