import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import type { Cluster } from '@pgroute/cluster'
import { requireControl, routerOptions, startTestCluster } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { expressApp, postRoutes as expressRoutes } from '../src/express-app.js'
import { fastifyApp, postRoutes as fastifyRoutes } from '../src/fastify-app.js'
import { honoApp, postRoutes as honoRoutes } from '../src/hono-app.js'
import { migrate } from '../src/schema.js'
import { createThenRead } from './http-client.js'
import { buildNextApp, type NextServer, startNextApp } from './next-server.js'
import {
  expectNoStaleRead,
  expectStaleReads,
  type ReadAfterWrite,
  readAfterWrite,
} from './read-after-write.js'
import { type Running, serve } from './server.js'

const ITERATIONS = 200
const LATE = 'a replica that replays WAL 2 s late'

let cluster: Cluster
let router: Router
let replicaPorts: Set<number>

beforeAll(async () => {
  // replica-2 applies WAL two seconds after the primary wrote it: a read there right after a write misses it.
  cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
  router = createRouter(routerOptions(cluster))
  await router.ready()
  await migrate(router)
  await cluster.waitForReplication({ replicas: cluster.replicas })
  replicaPorts = new Set(cluster.replicas.map((replica) => replica.port))
})

afterAll(async () => {
  await router?.end()
  await cluster?.stop()
})

async function serveFastify(app: import('fastify').FastifyInstance): Promise<Running> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, stop: () => app.close() }
}

/**
 * Each framework's example app, and the same routes without the integration: what an app does when it carries
 * no token across requests.
 */
const frameworks: ReadonlyArray<{
  readonly name: string
  readonly withIntegration: () => Promise<Running>
  readonly without: () => Promise<Running>
}> = [
  {
    name: 'express',
    withIntegration: async () => serve(createServer(expressApp(router))),
    without: async () => serve(createServer(express().use(expressRoutes(router)))),
  },
  {
    name: 'fastify',
    withIntegration: async () => serveFastify(await fastifyApp(router)),
    without: async () => {
      const app = Fastify()
      await app.register(fastifyRoutes, { router })
      return serveFastify(app)
    },
  },
  {
    name: 'hono',
    withIntegration: async () => serve(createAdaptorServer({ fetch: honoApp(router).fetch }) as Server),
    without: async () =>
      serve(createAdaptorServer({ fetch: new Hono().route('/', honoRoutes(router)).fetch }) as Server),
  },
]

async function measure(app: Running, carryToken: boolean, prefix = ''): Promise<ReadAfterWrite> {
  return readAfterWrite(ITERATIONS, replicaPorts, (i) => createThenRead(app.base, i, carryToken, prefix))
}

describe.each(frameworks.map((framework) => [framework.name, framework] as const))(
  '%s',
  (name, { withIntegration, without }) => {
    it(`reads every write of the request before, over ${ITERATIONS} iterations`, async (context) => {
      requireControl(context, LATE)
      const app = await withIntegration()
      try {
        expectNoStaleRead(`${name}, with @pgroute/http`, await measure(app, true))
      } finally {
        await app.stop()
      }
    })

    it('misses writes without the integration', async (context) => {
      requireControl(context, LATE)
      const app = await without()
      try {
        expectStaleReads(`${name}, without it`, await measure(app, false))
      } finally {
        await app.stop()
      }
    })
  },
)

describe('next (next build, next start)', () => {
  let next: NextServer | undefined

  beforeAll(async () => {
    await buildNextApp()
    next = await startNextApp({
      PGROUTE_PRIMARY_URL: cluster.primary.url,
      PGROUTE_REPLICA_URLS: cluster.replicas.map((replica) => replica.url).join(','),
    })
  }, 600_000)

  afterAll(async () => {
    await next?.stop()
  })

  it(`reads every write of the request before, over ${ITERATIONS} iterations`, async (context) => {
    requireControl(context, LATE)
    expectNoStaleRead('next, with @pgroute/http', await measure(next!, true))
  })

  it('misses writes without the integration', async (context) => {
    requireControl(context, LATE)
    expectStaleReads('next, without it', await measure(next!, false, '/without-pgroute'))
  })
})
