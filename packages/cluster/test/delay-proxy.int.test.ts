import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, type DelayProxy, isClusterError, startCluster, startDelayProxy } from '../src/index.js'

let cluster: Cluster
const proxies: DelayProxy[] = []
const clients: pg.Client[] = []

beforeAll(async () => {
  cluster = await startCluster({ replicas: 0 })
})

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end().catch(() => {})))
  await Promise.all(proxies.map((proxy) => proxy.close()))
  await cluster?.stop()
})

async function proxy(options: Parameters<typeof startDelayProxy>[1]): Promise<DelayProxy> {
  const started = await startDelayProxy(cluster.primary, options)
  proxies.push(started)
  return started
}

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config)
  client.on('error', () => {})
  clients.push(client)
  await client.connect()
  return client
}

/** Round-trip times of `count` one-row statements, in ms, sorted. */
async function roundTrips(client: pg.Client, count = 25): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    await client.query('SELECT 1')
    times.push(performance.now() - started)
  }
  return times.sort((a, b) => a - b)
}

const median = (sorted: readonly number[]) => sorted[Math.floor(sorted.length / 2)]!

describe('startDelayProxy()', () => {
  it('adds the configured round-trip time to every exchange, and the new one once changed at run time', async () => {
    const far = await proxy({ delay: '3ms' })
    expect(far.url).toContain(`127.0.0.1:${far.port}/`)
    expect(far.connectionConfig).toMatchObject({ host: '127.0.0.1', port: far.port })
    const direct = await connect(cluster.primary.connectionConfig)
    const proxied = await connect(far.connectionConfig!)
    const server = await proxied.query<{ port: number }>('SELECT inet_server_port() AS port')
    expect(server.rows[0]!.port).toBe(cluster.primary.port) // the same server, through the proxy

    const near = await roundTrips(direct)
    const three = await roundTrips(proxied)
    far.setDelay('20ms')
    expect(far.delayMs).toBe(20)
    const twenty = await roundTrips(proxied, 10)
    far.setDelay(0)
    const none = await roundTrips(proxied)
    console.log(
      `median round trip: direct ${median(near).toFixed(2)} ms, +3 ms ${median(three).toFixed(2)} ms, ` +
        `+20 ms ${median(twenty).toFixed(2)} ms, +0 ms ${median(none).toFixed(2)} ms`,
    )
    // Timers never deliver early: every exchange takes at least the added time.
    expect(three[0]).toBeGreaterThanOrEqual(3)
    expect(twenty[0]).toBeGreaterThanOrEqual(20)
    expect(median(near)).toBeLessThan(median(three))
    expect(median(three)).toBeLessThan(median(twenty))
    expect(median(none)).toBeLessThan(median(twenty))
    expect(far.connections).toBe(1)
  })

  it("splits the delay over both directions with direction 'both'", async () => {
    const both = await proxy({ delay: '6ms', direction: 'both' })
    const client = await connect(both.connectionConfig!)
    const times = await roundTrips(client, 10)
    expect(times[0]).toBeGreaterThanOrEqual(6)
  })

  it('keeps the byte stream in order under jitter (large results arrive intact)', async () => {
    const jittery = await proxy({ delay: '1ms', jitter: '4ms' })
    expect(jittery.jitterMs).toBe(4)
    const client = await connect(jittery.connectionConfig!)
    const { rows } = await client.query<{ n: number; body: string }>(
      `SELECT n, md5(n::text) || repeat('x', 2000) AS body FROM generate_series(1, 3000) AS n`,
    )
    expect(rows).toHaveLength(3000)
    rows.forEach((row, index) => {
      expect(row.n).toBe(index + 1)
      expect(row.body.length).toBe(2032)
    })
    const times = await roundTrips(client, 10)
    expect(times[0]).toBeGreaterThanOrEqual(1)
  })

  it('cuts its connections on close(), stops listening, and refuses bad options', async () => {
    const closing = await startDelayProxy(cluster.primary, { delay: 1 })
    const client = await connect(closing.connectionConfig!)
    await client.query('SELECT 1')
    const ended = new Promise((resolve) => client.once('end', resolve))
    await closing.close()
    await ended
    expect(closing.connections).toBe(0)
    await expect(client.query('SELECT 1')).rejects.toThrow()
    await expect(
      connect({ ...closing.connectionConfig!, connectionTimeoutMillis: 2000 }),
    ).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    })
    await closing.close() // idempotent
    const error = await startDelayProxy(cluster.primary, { delay: '3 ms later' }).catch((e: unknown) => e)
    expect(isClusterError(error) && error.option).toBe('delay')
    const direction = await startDelayProxy(cluster.primary, { direction: 'up' as 'both' }).catch(
      (e: unknown) => e,
    )
    expect(isClusterError(direction) && direction.option).toBe('direction')
  })

  it('forwards to any TCP address, and a refused target ends the client connection', async () => {
    const nowhere = await startDelayProxy({ host: '127.0.0.1', port: 1 })
    proxies.push(nowhere)
    expect(nowhere.url).toBeUndefined()
    const client = new pg.Client({ host: '127.0.0.1', port: nowhere.port, connectionTimeoutMillis: 5000 })
    client.on('error', () => {})
    await expect(client.connect()).rejects.toThrow()
  })
})
