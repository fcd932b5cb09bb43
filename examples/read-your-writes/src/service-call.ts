import type { Router } from '@pgroute/core'
import { fetchWithToken } from '@pgroute/http'
import { readYourWrites } from '@pgroute/http/express'
import { tokenFromBaggage, withTokenInBaggage } from '@pgroute/http/opentelemetry'
import express from 'express'

/**
 * The invoicing service: GET /invoices/:orderId reads the order another service just wrote. It continues from
 * the token in the x-pgroute-token header, or in the OpenTelemetry baggage of the request.
 */
export function invoicingService(router: Router): express.Express {
  const app = express()
  app.use(readYourWrites({ router, sources: [tokenFromBaggage] }))
  app.get('/invoices/:orderId', async (req, res) => {
    const { rows } = await router.query(
      'SELECT id, item, inet_server_port() AS "servedBy" FROM orders WHERE id = $1',
      [Number(req.params.orderId)],
    )
    if (rows[0]) res.json({ order: rows[0] })
    else res.status(404).json({ message: 'No such order' })
  })
  return app
}

/** How the ordering service passes its token along: a header, or the baggage tracing propagates. */
export type Carry = 'header' | 'baggage'

/**
 * The ordering service: POST /orders writes an order, then asks the invoicing service for its invoice, which
 * must find the order.
 */
export function orderingService(router: Router, invoicing: string, carry: Carry): express.Express {
  const callWithToken = fetchWithToken({ router }) // sends x-pgroute-token, continues from the answer's
  const call = (url: string) =>
    carry === 'header' ? callWithToken(url) : withTokenInBaggage(router, () => fetch(url)) // with tracing on, the fetch instrumentation sends the baggage
  const app = express()
  app.use(readYourWrites({ router }))
  app.use(express.json())
  app.post('/orders', async (req, res) => {
    const { rows } = await router.query('INSERT INTO orders (item) VALUES ($1) RETURNING id', [req.body.item])
    const invoice = await call(`${invoicing}/invoices/${rows[0]!.id}`)
    res.status(201).json({ id: rows[0]!.id, invoice: await invoice.json() })
  })
  return app
}
