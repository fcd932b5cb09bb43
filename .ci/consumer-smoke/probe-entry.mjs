// ES module consumer: every package through import.
import * as cluster from '@pgroute/cluster'
import * as core from '@pgroute/core'
import * as drizzle from '@pgroute/drizzle'
import * as http from '@pgroute/http'
import * as httpExpress from '@pgroute/http/express'
import * as httpFastify from '@pgroute/http/fastify'
import * as httpHono from '@pgroute/http/hono'
import * as httpNext from '@pgroute/http/next'
import * as jobs from '@pgroute/jobs'
import * as jobsBullmq from '@pgroute/jobs/bullmq'
import * as jobsGraphile from '@pgroute/jobs/graphile-worker'
import * as jobsPgBoss from '@pgroute/jobs/pg-boss'
import * as kysely from '@pgroute/kysely'
import * as drizzleOrm from 'drizzle-orm'
import * as kyselyLib from 'kysely'
import checks from './probe-checks.cjs'

const modules = {
  core,
  kysely,
  drizzle,
  cluster,
  kyselyLib,
  drizzleOrm,
  http,
  httpExpress,
  httpFastify,
  httpHono,
}
checks.main({ ...modules, httpNext, jobs, jobsBullmq, jobsGraphile, jobsPgBoss }, 'import')
