import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPgRouteError, type RoutedClient, type Router } from '../src/index.js'
import { failure, routerFor, stateOf, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'

/*
 * A connection held across statements (a transaction's, a pinned client's) remembers the role its node had when it
 * was checked out: once that node is fenced or changes role, nothing more is sent on it.
 */

let cluster: Cluster
let router: Router

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query('CREATE TABLE ledger (id bigserial PRIMARY KEY, note text)')
  await cluster.waitForReplication()
  router = routerFor(cluster)
  await router.ready()
})

afterAll(async () => {
  await router?.end()
  await cluster?.stop()
})

describe('a held connection whose node changed role', () => {
  it("a transaction's COMMIT is not sent to the old primary once it is fenced; a replica-pinned client moves on", async (context) => {
    requireControl(context, 'promotes a replica beside a running primary')
    const oldPrimary = cluster.primary
    const oldName = router.status()[0]!.name
    for (const replica of cluster.replicas) await waitForState(router, replica.name, 'up')
    const pinned = (await router.connect()) as RoutedClient
    try {
      await pinned.query(WHO) // pins a replica, outside any transaction
      expect(pinned.role).toBe('replica')
      let inserted = false
      const transaction = router.transaction(async (client) => {
        await client.query(`INSERT INTO ledger (note) VALUES ('in flight')`)
        inserted = true
        // The old primary keeps running while another node is promoted beside it: split brain, which fences it.
        await waitFor(() => stateOf(router, oldName) === 'fenced', 20_000, `${oldName} to be fenced`)
      })
      await waitFor(() => inserted, 5000, 'the insert')
      await cluster.promote('replica-1', { stopOldPrimary: false, follow: false })

      const error = await failure(transaction)
      expect(isPgRouteError(error) && error.code).toBe('PGROUTE_ROLE_CHANGED')
      expect((error as Error).message).toMatch(new RegExp(`${oldName} is fenced`))
      // Nothing was committed on the old primary: the COMMIT never reached it (the connection was destroyed).
      const { rows } = await oldPrimary.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ledger WHERE note = 'in flight'`,
      )
      expect(rows[0]!.n).toBe(0)

      // The pinned client held nothing on its replica: whatever became of that node, it reads on.
      const before = pinned.node
      await waitFor(() => router.status()[0]!.name === 'replica-1', 20_000, 'replica-1 to lead')
      expect((await pinned.query(WHO)).rows).toHaveLength(1)
      expect(pinned.node).toBeDefined()
      if (before === 'replica-1') expect(pinned.role).toBe('primary')
    } finally {
      pinned.release()
    }
  }, 90_000)
})
