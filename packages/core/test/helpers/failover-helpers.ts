import type { EventEmitter } from 'node:events'
import net from 'node:net'
import type { Cluster, ClusterNode, StartClusterOptions } from '@pgroute/cluster'
import { startTestCluster } from '@pgroute/cluster/testing'
import type { Router } from '../../src/index.js'

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Clusters and routers of one test file, each ended after its test. {@link cluster} starts a fresh cluster with
 * an `items` table replicated everywhere.
 */
export class TestResources {
  readonly #clusters: Cluster[] = []
  readonly #routers: Router[] = []
  readonly #closers: Array<() => Promise<unknown>> = []

  async cluster(options: StartClusterOptions = { replicas: 1 }): Promise<Cluster> {
    const started = await startTestCluster(options)
    this.#clusters.push(started)
    await started.primary.query('CREATE TABLE items (id bigserial PRIMARY KEY, note text)')
    await started.waitForReplication()
    return started
  }

  router(router: Router): Router {
    this.#routers.push(router)
    return router
  }

  /** Runs `close` (after the routers, before the clusters) when the test ends. */
  onCleanup(close: () => Promise<unknown>): void {
    this.#closers.push(close)
  }

  async release(): Promise<void> {
    // A router whose end() hangs must not hold the clusters up: each end() gets 20 s.
    await Promise.all(
      this.#routers.splice(0).map((router) => Promise.race([router.end().catch(() => {}), sleep(20_000)])),
    )
    for (const close of this.#closers.splice(0)) await close().catch(() => {})
    await Promise.all(this.#clusters.splice(0).map((cluster) => cluster.stop()))
  }
}

/** The notes of `items` as the node itself has them (read on the node, not through a router). */
export async function notesOn(node: ClusterNode, table = 'items'): Promise<string[]> {
  const { rows } = await node.query<{ note: string }>(`SELECT note FROM ${table} ORDER BY id`)
  return rows.map((row) => row.note)
}

/** Listens for an event the router's typed event map may not list yet (a contract these tests state first). */
export function onEvent(router: Router, event: string, listener: (payload: unknown) => void): void {
  ;(router as unknown as EventEmitter).on(event, listener)
}

/** `promise`'s settlement, or `'pending'` when it has not settled by the time `other` resolves. */
export async function settledBefore<T>(
  promise: Promise<T>,
  other: Promise<unknown>,
): Promise<{ readonly value?: T; readonly error?: unknown } | 'pending'> {
  const settled = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
  return Promise.race([settled, other.then(() => 'pending' as const)])
}

/**
 * A TCP forwarder standing for a stable endpoint (a load balancer, a DNS name) in front of a server: the router
 * connects to {@link port}; {@link switchTo} points it at another server and cuts every connection it carries.
 */
export class TcpProxy {
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  #target: number

  private constructor(server: net.Server, target: number) {
    this.#server = server
    this.#target = target
  }

  static async start(target: number): Promise<TcpProxy> {
    const server = net.createServer()
    const proxy = new TcpProxy(server, target)
    server.on('connection', (client) => proxy.#forward(client))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port
  }

  /** `url` with its port replaced by the proxy's. */
  url(url: string): string {
    const parsed = new URL(url)
    parsed.port = String(this.port)
    return parsed.toString()
  }

  /** Forwards new connections to `target` from now on; connections to the old target are cut. */
  switchTo(target: number): void {
    this.#target = target
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #forward(client: net.Socket): void {
    const server = net.connect(this.#target, '127.0.0.1')
    this.#sockets.add(client)
    this.#sockets.add(server)
    const drop = () => {
      client.destroy()
      server.destroy()
      this.#sockets.delete(client)
      this.#sockets.delete(server)
    }
    client.on('error', drop).on('close', drop)
    server.on('error', drop).on('close', drop)
    client.pipe(server)
    server.pipe(client)
  }
}

/**
 * The error `call` rejects with. When it resolves instead, the test fails naming what it resolved to (for a
 * query result: its rows), so a red run says what happened.
 */
export async function refusal(call: Promise<unknown>): Promise<unknown> {
  let value: unknown
  try {
    value = await call
  } catch (error) {
    return error
  }
  const rows = (value as { rows?: unknown } | undefined)?.rows
  throw new Error(
    `expected a refusal, but the call succeeded: ${JSON.stringify(rows ?? value) ?? 'undefined'}`,
  )
}
