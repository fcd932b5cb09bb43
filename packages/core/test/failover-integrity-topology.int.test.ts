/**
 * Issue #20, item 4: topology rules that cannot be tricked. A second writable node on the primary's own timeline
 * never takes over; a cluster replaced behind its addresses is adopted, with an event.
 */
import { requireControl } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, type PrimaryChangedEvent } from '../src/index.js'
import { FAST_HEALTH, portOf, routerFor, stateOf, waitFor, waitForState } from './helpers/cluster-helpers.js'
import { onEvent, sleep, TcpProxy, TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

const INSERT_WHO = "INSERT INTO items (note) VALUES ('who') RETURNING inet_server_port() AS port"

async function systemIdOf(node: { query: (sql: string) => Promise<{ rows: Array<{ id: string }> }> }) {
  const { rows } = await node.query('SELECT system_identifier::text AS id FROM pg_control_system()')
  return rows[0]!.id
}

describe('a writable rival on the same timeline', () => {
  it('never takes over from the primary, even when the primary stalls 400 ms; both are reported', async (context) => {
    requireControl(context, 'restarts a replica read-write and stalls the primary')
    const c = await resources.cluster({ replicas: 2 })
    const router = resources.router(routerFor(c, { healthCheck: { intervalMs: 200, timeoutMs: 150 } }))
    await router.ready()
    const primary = router.status()[0]!.name
    const changes: PrimaryChangedEvent[] = []
    router.on('primary-changed', (event) => changes.push(event))
    // Without standby.signal the replica ends recovery where it was: read-write on timeline 1, as the primary.
    const rival = c.replicas[1]!
    await rival.stop()
    await rival.startStandalone()
    const { rows } = await rival.query<{ tl: string }>(
      'SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl',
    )
    expect(Number.parseInt(rows[0]!.tl, 16)).toBe(1)
    await waitForState(router, 'replica-2', 'fenced')

    await c.primary.hang()
    await sleep(400)
    await c.primary.resume()
    await waitFor(() => stateOf(router, primary) !== 'down', 10_000, 'the primary to answer again')
    // A few rounds after the stall: the rival must not have been elected in between, nor be now.
    await sleep(1000)
    expect(changes).toEqual([])
    expect(router.status()[0]).toMatchObject({ name: primary, role: 'primary', state: 'up' })
    expect(portOf(await router.query(INSERT_WHO))).toBe(c.primary.port)
    const rivalRow = router.status().find((row) => row.name === 'replica-2')!
    expect(rivalRow.state).toBe('fenced')
    expect(rivalRow.reason).toMatch(/timeline 1/)
    expect(rivalRow.reason).toContain(primary)
  })
})

describe('a cluster replaced behind the same addresses', () => {
  it('is adopted after consistent probes, with an event (not fenced until the process restarts)', async (context) => {
    requireControl(context, 'replaces the servers behind the router')
    const password = 'replaced-cluster-secret'
    const blue = await resources.cluster({ replicas: 1, password })
    // Clusters made from one initdb template share a system identifier: another superuser name means another
    // template, so the green cluster is a different cluster. It gets the blue cluster's login as well.
    const green = await resources.cluster({ replicas: 1, password, user: 'green' })
    await green.primary.query(`CREATE ROLE postgres SUPERUSER LOGIN PASSWORD '${password}'`)
    await green.waitForReplication()
    expect(await systemIdOf(green.primary)).not.toBe(await systemIdOf(blue.primary))
    const proxies = await Promise.all(
      [blue.primary.port, blue.replicas[0]!.port].map((p) => TcpProxy.start(p)),
    )
    resources.onCleanup(() => Promise.all(proxies.map((proxy) => proxy.close())))
    const [primaryProxy, replicaProxy] = proxies as [TcpProxy, TcpProxy]
    const router = resources.router(
      createRouter({
        primary: primaryProxy.url(blue.primary.url),
        replicas: [{ name: 'replica-1', connectionString: replicaProxy.url(blue.replicas[0]!.url) }],
        healthCheck: FAST_HEALTH,
      }),
    )
    await router.ready()
    expect(portOf(await router.query(INSERT_WHO))).toBe(blue.primary.port)
    const blueId = await systemIdOf(blue.primary)
    const replaced: unknown[] = []
    onEvent(router, 'cluster-replaced', (event) => replaced.push(event))

    // Blue/green switch: every address now leads to the green cluster; no node of the blue one answers there.
    primaryProxy.switchTo(green.primary.port)
    replicaProxy.switchTo(green.replicas[0]!.port)
    await blue.stop()

    // Adopted: every node up again (a write squeezed through while the primary was only suspected proves nothing).
    await sleep(1000)
    await waitFor(
      () => router.status().every((row) => row.state === 'up'),
      15_000,
      'every node of the green cluster up',
    ).catch((error: unknown) => {
      const status = router.status().map(({ name, state, reason }) => ({ name, state, reason }))
      throw new Error(`${String(error)}; status: ${JSON.stringify(status)}`)
    })
    expect(portOf(await router.query(INSERT_WHO))).toBe(green.primary.port)
    expect(stateOf(router, 'replica-1')).toBe('up')
    expect(replaced).toHaveLength(1)
    expect(replaced[0]).toMatchObject({
      previousSystemId: blueId,
      systemId: await systemIdOf(green.primary),
    })
  })
})
