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
    http: require('@pgroute/http'),
    httpExpress: require('@pgroute/http/express'),
    httpFastify: require('@pgroute/http/fastify'),
    httpHono: require('@pgroute/http/hono'),
    httpNext: require('@pgroute/http/next'),
    jobs: require('@pgroute/jobs'),
    jobsBullmq: require('@pgroute/jobs/bullmq'),
    jobsGraphile: require('@pgroute/jobs/graphile-worker'),
    jobsPgBoss: require('@pgroute/jobs/pg-boss'),
  },
  'require',
)
