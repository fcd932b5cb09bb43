'use strict'
// What a new user does first with each package: load it, classify, route a read and a write through the router,
// then the same through Kysely and Drizzle. Both entry files call this with the modules they loaded their own way.

const assert = require('node:assert/strict')

/**
 * @param {{ core: any, kysely: any, drizzle: any, cluster: any, kyselyLib: any, drizzleOrm: any }} modules
 * @param {{ primary: string, replica: string }} urls
 */
async function runChecks(modules, urls) {
  const { core, kysely, drizzle, cluster, kyselyLib, drizzleOrm } = modules
  assert.equal(typeof cluster.startCluster, 'function', '@pgroute/cluster exports startCluster')
  assert.equal(core.classify('SELECT 1').target, 'replica')
  assert.equal(core.classify('INSERT INTO t VALUES (1)').target, 'primary')

  const router = core.createRouter({ primary: urls.primary, replicas: [urls.replica] })
  try {
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
  } finally {
    await router.end()
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
