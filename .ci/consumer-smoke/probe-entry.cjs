'use strict'
// CommonJS consumer: every package through require().
const { main } = require('./probe-checks.cjs')

main(
  {
    core: require('@pgroute/core'),
    kysely: require('@pgroute/kysely'),
    drizzle: require('@pgroute/drizzle'),
    cluster: require('@pgroute/cluster'),
    kyselyLib: require('kysely'),
    drizzleOrm: require('drizzle-orm'),
  },
  'require',
)
