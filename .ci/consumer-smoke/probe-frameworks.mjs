// ES module consumer with the frameworks installed: each @pgroute/http integration through import.

import * as honoServer from '@hono/node-server'
import * as core from '@pgroute/core'
import * as httpExpress from '@pgroute/http/express'
import * as httpFastify from '@pgroute/http/fastify'
import * as httpHono from '@pgroute/http/hono'
import * as httpOtel from '@pgroute/http/opentelemetry'
import express from 'express'
import fastify from 'fastify'
import * as hono from 'hono'
import checks from './probe-frameworks-checks.cjs'

checks.main(
  { core, httpExpress, httpFastify, httpHono, httpOtel, express, fastify, hono, honoServer },
  'import',
)
