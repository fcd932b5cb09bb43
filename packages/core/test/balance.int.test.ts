/**
 * The non-default `balance` strategies through `createRouter` on a real cluster: `random` (weighted, not an
 * alternation), `least-lag` (away from a replica that replays late), `least-busy` (away from a replica running a
 * long statement) and a function (its choice, `undefined` for the fallback, a wrong answer refused).
 * Round-robin, the default, is in routing.int.test.ts.
 */
import type { Cluster } from '@pgroute/cluster'
import { requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ReplicaInfo, Router, RouterOptions } from '../src/index.js'
import { failure, portOf, routerFor, WHO, waitFor, waitForState } from './helpers/cluster-helpers.js'

let cluster: Cluster
const routers: Router[] = []

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 })
  await cluster.primary.query('CREATE TABLE bulk (id bigserial PRIMARY KEY, payload text)')
  await cluster.waitForReplication()
})

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
  await cluster?.stop()
})

async function router(options: Partial<RouterOptions>): Promise<Router> {
  const created = routerFor(cluster, options)
  routers.push(created)
  await created.ready()
  return created
}

/** Ports of `count` reads, one after the other. */
async function sequentialPorts(routed: Router, count: number): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i++) ports.push(portOf(await routed.query(WHO)))
  return ports
}

describe("balance: 'random'", () => {
  it('spreads reads over the replicas by weight, in no fixed order', async () => {
    const [light, heavy] = cluster.replicas
    const routed = await router({
      balance: 'random',
      replicas: [
        { name: 'light', connectionString: light!.url, weight: 1 },
        { name: 'heavy', connectionString: heavy!.url, weight: 3 },
      ],
    })
    const ports = await sequentialPorts(routed, 400)
    const onHeavy = ports.filter((port) => port === heavy!.port).length
    expect(ports.filter((port) => port === light!.port).length + onHeavy).toBe(400)
    // 300 expected; binomial standard deviation 8.7: these bounds are over five of them away.
    expect(onHeavy).toBeGreaterThan(250)
    expect(onHeavy).toBeLessThan(350)
    // Not a weighted rotation: smooth round-robin never sends the light replica two reads in a row, random does
    // (in 400 draws at 1/4, about 25 times).
    const lightTwice = ports.some((port, i) => port === light!.port && ports[i + 1] === light!.port)
    expect(lightTwice).toBe(true)
  })
})

describe("balance: 'least-lag'", () => {
  it('sends reads to the replica least behind, and shares them again once both caught up', async (context) => {
    requireControl(context, 'pauses replay')
    const [prompt, behind] = cluster.replicas
    // No lag bound: the replica that falls behind stays eligible, only the strategy keeps reads away from it.
    const lag = { maxBytes: Number.POSITIVE_INFINITY, maxSeconds: Number.POSITIVE_INFINITY }
    const routed = await router({ balance: 'least-lag', lag })
    await behind!.pauseReplay()
    try {
      await cluster.primary.query(
        `INSERT INTO bulk (payload) SELECT repeat('x', 100) FROM generate_series(1, 1000)`,
      )
      await cluster.waitForReplication({ replicas: [prompt!] })
      const lagOf = (name: string) => routed.status().find((row) => row.name === name)!.lagBytes
      await waitFor(
        () => lagOf(behind!.name) > lagOf(prompt!.name),
        10_000,
        'a probe to see the paused replica behind',
      )
      expect(routed.status().find((row) => row.name === behind!.name)!.state).toBe('up')
      const ports = await sequentialPorts(routed, 40)
      expect(new Set(ports)).toEqual(new Set([prompt!.port]))
    } finally {
      await behind!.resumeReplay()
    }
    await cluster.waitForReplication({ replicas: cluster.replicas })
    await waitFor(
      () => routed.status().every((row) => row.lagBytes === 0),
      10_000,
      'a probe to see both replicas caught up',
    )
    // Equal lags: ties are shared round-robin.
    expect(new Set(await sequentialPorts(routed, 20))).toEqual(new Set(cluster.replicas.map((r) => r.port)))
  })
})

describe("balance: 'least-busy'", () => {
  it('sends reads away from the replica running a long statement', async () => {
    const routed = await router({ balance: 'least-busy' })
    // Equal (idle) replicas share reads.
    expect(new Set(await sequentialPorts(routed, 10))).toEqual(new Set(cluster.replicas.map((r) => r.port)))
    const slow = routed.query<{ port: number }>('SELECT inet_server_port() AS port FROM pg_sleep(2)')
    const busy = await new Promise<string>((resolve) => {
      const check = () => {
        const row = routed.status().find((r) => r.role === 'replica' && r.inFlight > 0)
        if (row) resolve(row.name)
        else setTimeout(check, 5)
      }
      check()
    })
    const busyPort = cluster.node(busy).port
    // While it runs, every read goes to the other replica (round-robin would send every other one there).
    const during = await sequentialPorts(routed, 20)
    expect(portOf(await slow)).toBe(busyPort)
    expect(during.filter((port) => port === busyPort)).toEqual([])
    expect(new Set(during)).toEqual(
      new Set(cluster.replicas.filter((r) => r.port !== busyPort).map((r) => r.port)),
    )
  })
})

describe('balance: a function', () => {
  it('gets each eligible replica as ReplicaInfo and its choice is where the read goes', async () => {
    const seen: ReplicaInfo[][] = []
    const routed = await router({
      balance: (candidates) => {
        seen.push([...candidates])
        return candidates.find((candidate) => candidate.name === 'replica-2')
      },
    })
    const ports = await sequentialPorts(routed, 10)
    expect(new Set(ports)).toEqual(new Set([cluster.node('replica-2').port]))
    expect(seen.length).toBeGreaterThanOrEqual(10)
    expect(
      seen
        .at(-1)!
        .map((info) => info.name)
        .sort(),
    ).toEqual(['replica-1', 'replica-2'])
    expect(seen.at(-1)![0]).toMatchObject({
      weight: 1,
      lagBytes: expect.any(Number),
      lagSeconds: expect.any(Number),
      inFlight: expect.any(Number),
      served: expect.any(Number),
    })
    // ReplicaInfo never carries connection settings: its fields are these figures, and no password appears in it
    // (a cluster that trusts its clients has none to look for: the fields are the check then).
    const fields = ['name', 'weight', 'zone', 'rttMs', 'lagBytes', 'lagSeconds', 'inFlight', 'served']
    for (const info of seen.at(-1)!) for (const key of Object.keys(info)) expect(fields).toContain(key)
    const { password } = new URL(cluster.primary.url)
    if (password !== '') expect(JSON.stringify(seen.at(-1))).not.toContain(password)
  })

  it('returning undefined sends the read to the fallback: the primary, or an error', async () => {
    const lenient = await router({ balance: () => undefined })
    expect(portOf(await lenient.query(WHO))).toBe(cluster.primary.port)
    const strict = await router({ balance: () => undefined, fallback: 'error' })
    expect(await failure(strict.query(WHO))).toMatchObject({ code: 'PGROUTE_NO_ELIGIBLE_NODE' })
  })

  it('a choice that is not one of the candidates fails the read with a ConfigError naming balance', async () => {
    const routed = await router({
      balance: () => ({
        name: 'nowhere',
        weight: 1,
        lagBytes: 0,
        lagSeconds: 0,
        inFlight: 0,
        served: 0,
        zone: undefined,
        rttMs: undefined,
      }),
    })
    expect(await failure(routed.query(WHO))).toMatchObject({
      code: 'PGROUTE_INVALID_OPTION',
      option: 'balance',
    })
    // Writes never consult it.
    const { rows } = await routed.query(
      "INSERT INTO bulk (payload) VALUES ('w') RETURNING inet_server_port() AS port",
    )
    expect(rows[0]!.port).toBe(cluster.primary.port)
    await waitForState(routed, 'replica-1', 'up')
  })
})
