'use strict'
// What a new user does first with each package: load it, classify, route a read and a write through the router,
// then the same through Kysely and Drizzle, then read-your-writes across requests (@pgroute/http's middleware on
// node:http, no framework installed) and into a job (@pgroute/jobs). Both entry files call this with the modules
// they loaded their own way.

const assert = require('node:assert/strict')
const http = require('node:http')

/** Serves `handler` (a connect-style middleware chain of one) on a free loopback port; resolves to its URL. */
function serve(middleware, handler) {
  const server = http.createServer((req, res) => middleware(req, res, () => handler(req, res)))
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({ base: `http://127.0.0.1:${server.address().port}`, server }),
    )
  })
}

/**
 * @param {{ core: any, kysely: any, drizzle: any, cluster: any, kyselyLib: any, drizzleOrm: any, http: any,
 *   httpExpress: any, httpNext: any, httpFastify: any, httpHono: any, jobs: any, jobsBullmq: any,
 *   jobsPgBoss: any, jobsGraphile: any }} modules
 * @param {{ primary: string, replica: string }} urls
 */
async function runChecks(modules, urls) {
  const { core, kysely, drizzle, cluster, kyselyLib, drizzleOrm } = modules
  assert.equal(typeof cluster.startCluster, 'function', '@pgroute/cluster exports startCluster')
  assert.equal(core.classify('SELECT 1').target, 'replica')
  assert.equal(core.classify('INSERT INTO t VALUES (1)').target, 'primary')

  const router = core.createRouter({ primary: urls.primary, replicas: [urls.replica] })
  try {
    // RoutedPool is exported as a value, not only declared in the .d.ts: `instanceof` works in either module system.
    assert.ok(router.pool instanceof core.RoutedPool, 'router.pool is an instance of the exported RoutedPool')
    await router.ready()
    const read = await router.query('SELECT pg_is_in_recovery() AS standby')
    assert.equal(read.rows[0].standby, true, 'a plain read runs on the replica')
    const write = await router.query('SELECT pg_is_in_recovery() AS standby FOR UPDATE')
    assert.equal(write.rows[0].standby, false, 'a locking read runs on the primary')

    const db = new kyselyLib.Kysely({
      dialect: new kysely.PgRouteDialect({ router, endRouterOnDestroy: false }),
    })
    const viaKysely = await kyselyLib.sql`SELECT pg_is_in_recovery() AS standby`.execute(db)
    assert.equal(viaKysely.rows[0].standby, true, 'a Kysely read runs on the replica')
    await db.destroy()

    const orm = drizzle.pgrouteDrizzle(router)
    const viaDrizzle = await orm.execute(drizzleOrm.sql`SELECT pg_is_in_recovery() AS standby`)
    assert.equal(viaDrizzle.rows[0].standby, true, 'a Drizzle read runs on the replica')

    await readYourWrites(modules, router)
  } finally {
    await router.end()
  }
}

/** @pgroute/http and @pgroute/jobs, with no framework, no queue and no OpenTelemetry installed. */
async function readYourWrites(modules, router) {
  const {
    core,
    http: root,
    httpExpress,
    httpNext,
    httpFastify,
    httpHono,
    jobs,
    jobsBullmq,
    jobsPgBoss,
    jobsGraphile,
  } = modules
  assert.equal(root.TOKEN_HEADER, 'x-pgroute-token')
  for (const [name, entry] of Object.entries({
    httpFastify,
    httpHono,
    jobsBullmq,
    jobsPgBoss,
    jobsGraphile,
  })) {
    assert.ok(entry !== undefined, `${name} loads without its framework or queue installed`)
  }
  assert.equal(typeof httpFastify.readYourWrites, 'function')
  assert.equal(typeof httpHono.readYourWrites, 'function')
  assert.equal(typeof jobsBullmq.inSession, 'function')
  await router.query('CREATE TABLE IF NOT EXISTS smoke_notes (id serial PRIMARY KEY, body text)')

  // The Express middleware is connect-style: it runs on node:http as it is.
  const { base, server } = await serve(httpExpress.readYourWrites({ router }), async (req, res) => {
    const { rows } =
      req.method === 'POST'
        ? await router.query("INSERT INTO smoke_notes (body) VALUES ('smoke') RETURNING id")
        : await router.query('SELECT count(*)::int AS n FROM smoke_notes')
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(rows[0]))
  })
  try {
    const written = await fetch(`${base}/notes`, { method: 'POST' })
    const token = written.headers.get('x-pgroute-token')
    assert.ok(core.isToken(token), `a write is answered with a token, got ${token}`)
    const read = await fetch(`${base}/notes`, { headers: { 'x-pgroute-token': token } })
    assert.equal(read.status, 200)
    assert.equal(read.headers.get('x-pgroute-token'), token, 'the next request continues from the token')
    const bad = await fetch(`${base}/notes`, { headers: { 'x-pgroute-token': 'nonsense' } })
    assert.equal(bad.status, 400, 'a malformed token is answered with 400')
    assert.equal((await bad.json()).code, 'PGROUTE_INVALID_TOKEN')

    // Next.js route handlers take Web Requests: no Next.js needed to run one.
    const handler = httpNext.readYourWrites({ router })(async () => Response.json({ ok: true }))
    const answer = await handler(new Request(`${base}/x`, { headers: { 'x-pgroute-token': token } }), {})
    assert.equal(answer.headers.get('x-pgroute-token'), token)

    // A job continues from the token its request put in the payload.
    const payload = await router.session(() => jobs.carryToken(router, { id: 1 }), { token })
    assert.equal(payload.pgrouteToken, token)
    const seen = await jobs.runInJobSession(
      router,
      { token: jobs.tokenOf(payload), attempt: 1, attempts: 1 },
      () => router.token(),
    )
    assert.equal(seen, token, 'the job runs in a session continuing from the token')
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

/** Runs the checks with the URLs from the environment; prints one line and sets the exit code. */
function main(modules, format) {
  const urls = { primary: process.env.SMOKE_PRIMARY_URL, replica: process.env.SMOKE_REPLICA_URL }
  runChecks(modules, urls).then(
    () => console.log(`ok ${format} on Node ${process.version}`),
    (error) => {
      console.error(`failed ${format} on Node ${process.version}:`, error)
      process.exitCode = 1
    },
  )
}

module.exports = { main }
