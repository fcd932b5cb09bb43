import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { RequestListener } from 'node:http'
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CBaggagePropagator } from '@opentelemetry/core'
import type { Cluster } from '@pgroute/cluster'
import { requireControl, routerOptions, startTestCluster } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import express from 'express'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { migrate } from '../src/schema.js'
import { type Carry, invoicingService, orderingService } from '../src/service-call.js'
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
/** Each service has a router of its own, as two processes would. */
let orderingRouter: Router
let invoicingRouter: Router
let replicaPorts: Set<number>
let invoicing: Running

/**
 * Stand-ins for the OpenTelemetry instrumentations of an application with tracing on, doing what they do: the
 * fetch (undici) instrumentation adds the active context's propagation headers (`baggage`) to each request it
 * creates, and the HTTP server instrumentation runs each request in the context extracted from its headers.
 */
const injectBaggage = (message: unknown) => {
  const { request } = message as { request: { addHeader(name: string, value: string): void } }
  const carrier: Record<string, string> = {}
  propagation.inject(context.active(), carrier)
  for (const [name, value] of Object.entries(carrier)) request.addHeader(name, value)
}
const traced =
  (app: RequestListener): RequestListener =>
  (req, res) =>
    context.with(propagation.extract(ROOT_CONTEXT, req.headers), () => app(req, res))

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CBaggagePropagator())
  subscribe('undici:request:create', injectBaggage)
  cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
  orderingRouter = createRouter(routerOptions(cluster))
  invoicingRouter = createRouter(routerOptions(cluster))
  await Promise.all([orderingRouter.ready(), invoicingRouter.ready()])
  await migrate(orderingRouter)
  await cluster.waitForReplication({ replicas: cluster.replicas })
  replicaPorts = new Set(cluster.replicas.map((replica) => replica.port))
  invoicing = await serve(traced(invoicingService(invoicingRouter)))
})

afterAll(async () => {
  await invoicing?.stop()
  await orderingRouter?.end()
  await invoicingRouter?.end()
  await cluster?.stop()
  unsubscribe('undici:request:create', injectBaggage)
  context.disable()
  propagation.disable()
})

/** Places `ITERATIONS` orders through `ordering`: each one's invoice must find the order. */
async function orders(ordering: express.Express): Promise<ReadAfterWrite> {
  const service = await serve(traced(ordering))
  try {
    return await readAfterWrite(ITERATIONS, replicaPorts, async (i) => {
      const answer = await fetch(`${service.base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: `item ${i}` }),
      })
      if (answer.status !== 201)
        throw new Error(`POST /orders answered ${answer.status}: ${await answer.text()}`)
      const { invoice } = (await answer.json()) as { invoice: { order?: { servedBy: number } } }
      return { fresh: invoice.order !== undefined, servedBy: invoice.order?.servedBy }
    })
  } finally {
    await service.stop()
  }
}

/** The naive ordering service: the same route, calling the invoicing service with a plain fetch. */
function plainOrderingService(): express.Express {
  return express()
    .use(express.json())
    .post('/orders', async (req, res) => {
      const { rows } = await orderingRouter.query('INSERT INTO orders (item) VALUES ($1) RETURNING id', [
        req.body.item,
      ])
      const invoice = await fetch(`${invoicing.base}/invoices/${rows[0]!.id}`)
      res.status(201).json({ id: rows[0]!.id, invoice: await invoice.json() })
    })
}

describe.each(['header', 'baggage'] as Carry[])('a call to another service, token in the %s', (carry) => {
  it(`the service called reads the caller's write, over ${ITERATIONS} calls`, async (context) => {
    requireControl(context, LATE)
    const result = await orders(orderingService(orderingRouter, invoicing.base, carry))
    expectNoStaleRead(`between services (${carry}), with @pgroute/http`, result)
  })
})

it('without the token, the service called misses writes', async (context) => {
  requireControl(context, LATE)
  expectStaleReads('between services, without it', await orders(plainOrderingService()))
})
