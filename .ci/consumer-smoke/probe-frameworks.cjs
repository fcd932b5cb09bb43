'use strict'
// CommonJS consumer with the frameworks installed: each @pgroute/http integration through require().
const { main } = require('./probe-frameworks-checks.cjs')

main(
  {
    core: require('@pgroute/core'),
    httpExpress: require('@pgroute/http/express'),
    httpFastify: require('@pgroute/http/fastify'),
    httpHono: require('@pgroute/http/hono'),
    httpOtel: require('@pgroute/http/opentelemetry'),
    express: require('express'),
    fastify: require('fastify'),
    hono: require('hono'),
    honoServer: require('@hono/node-server'),
  },
  'require',
)
