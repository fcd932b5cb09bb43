/**
 * What the router does where the replication functions it probes with are refused, as Aurora PostgreSQL refuses
 * `pg_last_wal_receive_lsn()` (`0A000 Function pg_last_xlog_receive_location() is currently not supported for
 * Aurora`) on every node and `pg_current_wal_lsn()` on its writer (`wal_level must be set to 'logical'`, unless
 * logical replication is on). Reproduced on a local cluster: functions of those names in a schema searched before
 * `pg_catalog` raise the same errors for the cluster's role. A primary's probe reads no receive position, so the
 * second refusal is what it meets, as on Aurora's writer. docs/production.md's Aurora section cites this file.
 */
import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { isPgRouteError, type Router } from '../src/index.js'
import { portOf, routerFor, WHO, waitFor } from './helpers/cluster-helpers.js'

let cluster: Cluster
let router: Router | undefined

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 })
})

afterAll(async () => {
  await router?.end()
  await cluster?.stop()
})

it('every probe fails: each node down with the server message, ready() rejects, writes are refused, reads run on the primary', async (context) => {
  requireControl(context, "changes the role's search_path on every node")
  await cluster.primary.query(`
    CREATE SCHEMA aurora;
    CREATE FUNCTION aurora.pg_last_wal_receive_lsn() RETURNS pg_lsn LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'Function pg_last_xlog_receive_location() is currently not supported for Aurora'
        USING ERRCODE = '0A000';
    END $$;
    CREATE FUNCTION aurora.pg_current_wal_lsn() RETURNS pg_lsn LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'wal_level must be set to ''logical''' USING ERRCODE = '55000';
    END $$;
    ALTER ROLE CURRENT_USER SET search_path = aurora, pg_catalog, public;`)
  await cluster.waitForReplication()
  router = routerFor(cluster)
  const error = await router.ready().then(
    () => undefined,
    (rejection: unknown) => rejection,
  )
  expect(isPgRouteError(error)).toBe(true)
  expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE' })
  await waitFor(() => router!.status().every((row) => row.state === 'down'), 5000, 'every node down')
  const [primary, ...replicas] = router.status()
  expect(primary!.lastError).toMatch(/wal_level must be set to 'logical'/)
  for (const row of replicas) expect(row.lastError).toMatch(/not supported for Aurora/)
  const write = await router.query('CREATE TABLE aurora_t (v int)').then(
    () => 'ran',
    (rejection: { code?: string }) => rejection.code,
  )
  expect(write).toBe('PGROUTE_PRIMARY_UNAVAILABLE')
  // Reads still run: with no replica eligible they fall back to the primary (`fallback: 'primary'`, the default).
  expect(portOf(await router.query(WHO))).toBe(cluster.primary.port)
  expect(router.health().ok).toBe(false)
})
