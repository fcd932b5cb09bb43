'use strict'
// With the frameworks installed: each @pgroute/http integration on its real framework, over real HTTP — a write
// answered with a token, the next request continuing from it, a malformed token answered with 400 — and the
// OpenTelemetry entry with @opentelemetry/api. Both entry files call this with the modules they loaded.

const assert = require('node:assert/strict')

/** POST /notes (a write), then GET /notes with its token, then GET /notes with a malformed token. */
async function roundTrip(name, base, isToken) {
  const written = await fetch(`${base}/notes`, { method: 'POST' })
  assert.equal(written.status, 200, `${name}: POST /notes`)
  const token = written.headers.get('x-pgroute-token')
  assert.ok(isToken(token), `${name}: a write is answered with a token, got ${token}`)
  const read = await fetch(`${base}/notes`, { headers: { 'x-pgroute-token': token } })
  assert.equal(read.status, 200, `${name}: GET /notes`)
  assert.equal(
    read.headers.get('x-pgroute-token'),
    token,
    `${name}: the next request continues from the token`,
  )
  const bad = await fetch(`${base}/notes`, { headers: { 'x-pgroute-token': 'nonsense' } })
  assert.equal(bad.status, 400, `${name}: a malformed token is answered with 400`)
}

/** The statement of each route: a write for POST, a read for GET. */
function statement(method) {
  return method === 'POST'
    ? "INSERT INTO smoke_notes (body) VALUES ('framework') RETURNING id"
    : 'SELECT count(*)::int AS n FROM smoke_notes'
}

async function runChecks(m, urls) {
  const router = m.core.createRouter({ primary: urls.primary, replicas: [urls.replica] })
  const closers = []
  try {
    await router.ready()
    await router.query('CREATE TABLE IF NOT EXISTS smoke_notes (id serial PRIMARY KEY, body text)')

    const express = m.express()
    express.use(m.httpExpress.readYourWrites({ router }))
    express.all('/notes', async (req, res) => res.json((await router.query(statement(req.method))).rows[0]))
    const expressServer = express.listen(0, '127.0.0.1')
    await new Promise((resolve) => expressServer.once('listening', resolve))
    closers.push(() => new Promise((resolve) => expressServer.close(resolve)))
    await roundTrip('express', `http://127.0.0.1:${expressServer.address().port}`, m.core.isToken)

    const fastify = m.fastify()
    await fastify.register(m.httpFastify.readYourWrites, { router })
    fastify.route({
      method: ['GET', 'POST'],
      url: '/notes',
      handler: async (request) => (await router.query(statement(request.method))).rows[0],
    })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    closers.push(() => fastify.close())
    await roundTrip('fastify', `http://127.0.0.1:${fastify.server.address().port}`, m.core.isToken)

    const hono = new m.hono.Hono()
    hono.use(m.httpHono.readYourWrites({ router }))
    hono.on(['GET', 'POST'], '/notes', async (c) =>
      c.json((await router.query(statement(c.req.method))).rows[0]),
    )
    const honoServer = m.honoServer.createAdaptorServer({ fetch: hono.fetch })
    await new Promise((resolve) => honoServer.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise((resolve) => honoServer.close(resolve)))
    await roundTrip('hono', `http://127.0.0.1:${honoServer.address().port}`, m.core.isToken)

    assert.equal(m.httpOtel.tokenFromBaggage(), undefined, 'no baggage, no token')
    assert.equal(await m.httpOtel.withTokenInBaggage(router, () => 'ran'), 'ran')
  } finally {
    for (const close of closers.reverse()) {
      await close()
    }
    await router.end()
  }
}

/** Runs the checks with the URLs from the environment; prints one line and sets the exit code. */
function main(modules, format) {
  const urls = { primary: process.env.SMOKE_PRIMARY_URL, replica: process.env.SMOKE_REPLICA_URL }
  runChecks(modules, urls).then(
    () => {
      console.log(`ok frameworks ${format} on Node ${process.version}`)
      // Keep-alive sockets of fetch() would hold the process a few seconds more.
      process.exit(process.exitCode ?? 0)
    },
    (error) => {
      console.error(`failed frameworks ${format} on Node ${process.version}:`, error)
      process.exit(1)
    },
  )
}

module.exports = { main }
