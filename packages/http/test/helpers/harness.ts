import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Cluster } from '@pgroute/cluster'
import { routerOptions, startTestCluster } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'

/** A cluster (primary + two replicas), a router over it and a `notes` table every node has. */
export interface Harness {
  readonly cluster: Cluster
  readonly router: Router
  /** Ports of the replicas, to tell who served a read. */
  readonly replicaPorts: ReadonlySet<number>
  stop(): Promise<void>
}

/** `replicaOptions` as `startCluster` takes them: `[{}, { applyDelay: '2s' }]` for a replica 2 s late. */
export async function startHarness(
  replicaOptions: ReadonlyArray<{ readonly applyDelay?: string }> = [{}, {}],
): Promise<Harness> {
  const cluster = await startTestCluster({
    replicas: replicaOptions.length,
    replicaOptions: [...replicaOptions],
  })
  const router = createRouter(routerOptions(cluster))
  try {
    await cluster.primary.query(
      'CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL)',
    )
    await cluster.waitForReplication({ replicas: cluster.replicas })
    await router.ready()
  } catch (error) {
    await router.end()
    await cluster.stop()
    throw error
  }
  return {
    cluster,
    router,
    replicaPorts: new Set(cluster.replicas.map((replica) => replica.port)),
    async stop() {
      await router.end()
      await cluster.stop()
    },
  }
}

/** Starts `server` on a free loopback port; resolves to its base URL. */
export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Closes `server`, ending idle keep-alive connections first. */
export async function close(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
}
