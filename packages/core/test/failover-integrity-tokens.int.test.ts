/**
 * Issue #20, item 6: tokens stay untrusted. A token can never send a session's reads to the primary unless that
 * session's own writes need it: `0/0`, positions of an older timeline the current one continues, and positions
 * whose timeline is unknown (a bare LSN).
 */
import { requireControl } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import type { Router } from '../src/index.js'
import { portOf, routerFor, WHO, waitForState } from './helpers/cluster-helpers.js'
import { TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

/** The ports of 20 reads of one session continued from `token`. */
function portsOfSession(router: Router, token: string): Promise<number[]> {
  return router.session(
    async () => {
      const ports: number[] = []
      for (let i = 0; i < 20; i++) ports.push(portOf(await router.query(WHO)))
      return ports
    },
    { token },
  )
}

describe('tokens that ask for nothing a replica lacks', () => {
  it("'0/0' and a bare LSN ('0/1', timeline unknown): reads go to replicas, not the primary", async () => {
    const c = await resources.cluster({ replicas: 2 })
    const router = resources.router(routerFor(c))
    await router.ready()
    await waitForState(router, 'replica-1', 'up')
    await waitForState(router, 'replica-2', 'up')
    for (const token of ['0/0', '0/0@1', '0/1']) {
      const ports = await portsOfSession(router, token)
      expect(
        ports.filter((port) => port === c.primary.port),
        `reads on the primary with token ${token}`,
      ).toEqual([])
    }
  })
})

describe('tokens of the timeline before a failover', () => {
  it("'0/1@1' and a real token written before a clean failover: reads go to the replica of the new timeline (and see the write)", async (context) => {
    requireControl(context, 'promotes a replica')
    const c = await resources.cluster({ replicas: 2 })
    const router = resources.router(routerFor(c))
    await router.ready()
    const written = await router.session(async () => {
      const { rows } = await router.query<{ id: string }>(
        "INSERT INTO items (note) VALUES ('before') RETURNING id",
      )
      return { id: rows[0]!.id, token: (await router.token())! }
    })
    expect(written.token).toMatch(/@1$/)
    await c.waitForReplication()
    const changed = new Promise((resolve) => router.once('primary-changed', resolve))
    await c.promote(c.replicas[0]!) // clean: the old primary stops first, replica-2 follows the new one
    await changed
    await waitForState(router, 'replica-2', 'up', 20_000)

    const ports = await portsOfSession(router, '0/1@1')
    expect(ports.filter((port) => port === c.primary.port)).toEqual([])

    const readBack = await router.session(
      async () => {
        const { rows } = await router.query<{ port: number }>(
          'SELECT inet_server_port() AS port FROM items WHERE id = $1',
          [written.id],
        )
        return rows
      },
      { token: written.token },
    )
    expect(readBack).toHaveLength(1)
    expect(readBack[0]!.port).toBe(c.node('replica-2').port)
  })
})
