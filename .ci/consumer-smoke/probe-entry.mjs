// ES module consumer: every package through import.
import * as cluster from '@pgroute/cluster'
import * as core from '@pgroute/core'
import * as drizzle from '@pgroute/drizzle'
import * as kysely from '@pgroute/kysely'
import * as drizzleOrm from 'drizzle-orm'
import * as kyselyLib from 'kysely'
import checks from './probe-checks.cjs'

checks.main({ core, kysely, drizzle, cluster, kyselyLib, drizzleOrm }, 'import')
