/**
 * The role rules (see role-resolver.ts and its unit test) on real clusters, through `createRouter`: a node of
 * another cluster (another system identifier) is fenced even when it would lead a newer timeline; a second
 * writable node on the newest timeline is fenced beside the primary the router follows while both answer; the
 * router never goes back to an older timeline while the newest primary is unreachable; and a replica whose
 * timeline the login may not read is taken at its word, not fenced.
 */
import type { Cluster, ClusterNode } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, type RouteEvent, type Router } from '../src/index.js'
import {
  FAST_HEALTH,
  failure,
  portOf,
  routerFor,
  stateOf,
  WHO,
  waitFor,
  waitForState,
} from './helpers/cluster-helpers.js'

const clusters: Cluster[] = []
const routers: Router[] = []

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.end()))
  await Promise.all(clusters.splice(0).map((cluster) => cluster.stop()))
})

/**
 * A started cluster. Local clusters are copies of one cached initdb template per superuser name, so they share a
 * system identifier: `user` names another superuser for a cluster with an identifier of its own.
 */
async function cluster(replicas: number, user?: string): Promise<Cluster> {
  const started = await startTestCluster({ replicas, ...(user ? { user } : {}) })
  clusters.push(started)
  await started.primary.query('CREATE TABLE marks (id bigserial PRIMARY KEY, tag text)')
  await started.waitForReplication()
  return started
}

function keep(router: Router): Router {
  routers.push(router)
  return router
}

/** Route events from now on, with the node each went to. */
function routes(router: Router): RouteEvent[] {
  const seen: RouteEvent[] = []
  router.on('route', (event) => seen.push(event))
  return seen
}

/** The reason `router` gives for the state of the node named `name`. */
function reasonOf(router: Router, name: string): string | null | undefined {
  return router.status().find((row) => row.name === name)?.reason
}

/** Resolves after every node of `router` has been probed twice more. */
async function twoMoreProbes(router: Router): Promise<void> {
  const before = new Map(router.status().map((row) => [row.name, row.lastProbeAt]))
  for (let round = 0; round < 2; round++) {
    const seen = new Map(router.status().map((row) => [row.name, row.lastProbeAt]))
    await waitFor(
      () => router.status().every((row) => row.lastProbeAt !== seen.get(row.name)),
      10_000,
      'every node probed again',
    )
  }
  expect(router.status().every((row) => row.lastProbeAt !== before.get(row.name))).toBe(true)
}

async function tags(node: ClusterNode, tag: string): Promise<number> {
  const { rows } = await node.query<{ n: number }>('SELECT count(*)::int AS n FROM marks WHERE tag = $1', [
    tag,
  ])
  return rows[0]!.n
}

describe('another system identifier', () => {
  it('fences the nodes of another cluster, even one leading a newer timeline; they get no statement', async (context) => {
    requireControl(context, 'promotes a replica of a second cluster')
    const home = await cluster(1)
    const other = await cluster(2, 'stranger')
    const systemIdOf = async (node: ClusterNode) =>
      (await node.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()'))
        .rows[0]!.id
    const systemId = await systemIdOf(home.primary)
    expect(await systemIdOf(other.primary)).not.toBe(systemId)
    // The other cluster fails over: its new primary leads timeline 2, newer than ours, its replica follows it.
    await other.promote(other.replicas[0]!)
    const [otherPrimary, otherReplica] = [other.node('replica-1'), other.node('replica-2')]
    const router = keep(
      createRouter({
        primary: home.primary.url,
        replicas: [
          { name: 'home-replica', connectionString: home.replicas[0]!.url },
          { name: 'other-primary', connectionString: otherPrimary.url },
          { name: 'other-replica', connectionString: otherReplica.url },
        ],
        healthCheck: FAST_HEALTH,
        routeEvents: true,
      }),
    )
    const routed = routes(router)
    await router.ready()
    await waitForState(router, 'other-primary', 'fenced')
    await waitForState(router, 'other-replica', 'fenced')
    for (const name of ['other-primary', 'other-replica']) {
      expect(reasonOf(router, name)).toMatch(
        new RegExp(`^system identifier \\d+ is not the cluster's \\(${systemId}\\)$`),
      )
    }
    // Writes stay on our primary (timeline 1), reads on our replica.
    expect(router.status()[0]).toMatchObject({ name: router.status()[0]!.name, role: 'primary', timeline: 1 })
    await router.query("INSERT INTO marks (tag) VALUES ('home')")
    expect(await tags(home.primary, 'home')).toBe(1)
    expect(await tags(otherPrimary, 'home')).toBe(0)
    const ports = new Set<number>()
    for (let i = 0; i < 20; i++) ports.add(portOf(await router.query(WHO)))
    expect([...ports]).toEqual([home.replicas[0]!.port])
    expect(routed.filter((event) => event.node.startsWith('other-'))).toEqual([])
  }, 120_000)
})

describe('two writable nodes on the newest timeline', () => {
  it('keeps the primary it follows while both answer, and fences the rival', async (context) => {
    requireControl(context, 'promotes two replicas beside a running primary')
    const c = await cluster(2)
    const router = keep(routerFor(c, { routeEvents: true }))
    await router.ready()
    const oldPrimary = router.status()[0]!.name
    // replica-1 leads timeline 2; the old primary keeps running on timeline 1, replica-2 keeps following it.
    await c.promote('replica-1', { stopOldPrimary: false, follow: false })
    await waitFor(() => router.status()[0]!.name === 'replica-1', 20_000, 'the router to follow replica-1')
    // replica-2 is promoted too: it leaves timeline 1 for a timeline 2 of its own (a split brain).
    await c.promote('replica-2', { stopOldPrimary: false, follow: false })
    const { rows } = await c
      .node('replica-2')
      .query<{ tli: string }>('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tli')
    expect(Number.parseInt(rows[0]!.tli, 16)).toBe(2)
    await waitFor(
      () => /^claims primary on timeline 2 beside replica-1/.test(reasonOf(router, 'replica-2') ?? ''),
      20_000,
      `replica-2 fenced as a rival (is ${stateOf(router, 'replica-2')}: ${reasonOf(router, 'replica-2')})`,
    )
    const routed = routes(router)
    await twoMoreProbes(router)
    // Both answer: the incumbent stays, the rival and the old primary get nothing.
    expect(router.status()[0]).toMatchObject({ name: 'replica-1', role: 'primary', state: 'up', timeline: 2 })
    expect(stateOf(router, oldPrimary)).toBe('fenced')
    expect(stateOf(router, 'replica-2')).toBe('fenced')
    await router.query("INSERT INTO marks (tag) VALUES ('after-rival')")
    expect(await tags(c.node('replica-1'), 'after-rival')).toBe(1)
    expect(await tags(c.node('replica-2'), 'after-rival')).toBe(0)
    for (let i = 0; i < 10; i++) await router.query(WHO)
    expect(new Set(routed.map((event) => event.node))).toEqual(new Set(['replica-1']))
  }, 120_000)
})

describe('never back to an older timeline', () => {
  it('while the newest primary is unreachable, the old primary still running on timeline 1 gets no write', async (context) => {
    requireControl(context, 'promotes a replica beside a running primary, then stops it')
    const c = await cluster(2)
    const router = keep(routerFor(c, { routeEvents: true }))
    await router.ready()
    const oldPrimary = router.status()[0]!.name
    const oldPrimaryNode = c.primary
    await c.promote('replica-1', { stopOldPrimary: false, follow: false })
    await waitFor(() => router.status()[0]!.name === 'replica-1', 20_000, 'the router to follow replica-1')
    await c.node('replica-1').stop({ mode: 'fast' })
    try {
      await waitForState(router, 'replica-1', 'down')
      const routed = routes(router)
      await twoMoreProbes(router)
      // The old primary answers, writable, on timeline 1: it stays fenced, and writes fail typed.
      expect(stateOf(router, oldPrimary)).toBe('fenced')
      expect(reasonOf(router, oldPrimary)).toMatch(
        /claims primary on timeline 1, older than the cluster's timeline 2/,
      )
      expect(router.status()[0]).toMatchObject({ name: 'replica-1', state: 'down' })
      expect(await failure(router.query("INSERT INTO marks (tag) VALUES ('lost')"))).toMatchObject({
        code: 'PGROUTE_PRIMARY_UNAVAILABLE',
      })
      expect(await tags(oldPrimaryNode, 'lost')).toBe(0)
      await router.query(WHO).catch(() => {}) // no replica is eligible: whatever happens, not on a fenced node
      expect(routed.filter((event) => event.node === oldPrimary || event.node === 'replica-2')).toEqual([])
    } finally {
      await c.node('replica-1').start()
    }
    // Back on the newest timeline once its primary answers again.
    await waitForState(router, 'replica-1', 'up', 20_000)
    await router.query("INSERT INTO marks (tag) VALUES ('back')")
    expect(await tags(c.node('replica-1'), 'back')).toBe(1)
  }, 120_000)
})

describe('a timeline the login may not read', () => {
  it('does not fence a replica whose WAL receiver it cannot see (no pg_read_all_stats): it serves reads', async (context) => {
    requireControl(context, 'creates a login role without privileges')
    const c = await cluster(2)
    const password = 'plain-login-pw'
    await c.primary.query(`CREATE ROLE plain_login LOGIN PASSWORD '${password}'`)
    await c.primary.query('GRANT SELECT ON marks TO plain_login')
    await c.waitForReplication()
    const as = (node: ClusterNode) => {
      const url = new URL(node.url)
      url.username = 'plain_login'
      url.password = password
      return url.toString()
    }
    const router = keep(
      createRouter({
        primary: as(c.primary),
        replicas: c.replicas.map((replica) => ({ name: replica.name, connectionString: as(replica) })),
        healthCheck: FAST_HEALTH,
      }),
    )
    await router.ready()
    for (const replica of c.replicas) await waitForState(router, replica.name, 'up')
    // A replica's timeline comes from pg_stat_wal_receiver, whose columns this login may not see.
    const status = router.status()
    expect(status.map((row) => [row.role, row.timeline])).toEqual([
      ['primary', 1],
      ['replica', null],
      ['replica', null],
    ])
    const ports = new Set<number>()
    for (let i = 0; i < 20; i++) ports.add(portOf(await router.query(WHO)))
    expect([...ports].sort()).toEqual(c.replicas.map((replica) => replica.port).sort())
  })
})
