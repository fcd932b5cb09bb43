import { createServer } from 'node:http'
import type { Cluster } from '@pgroute/cluster'
import {
  type RedisServer,
  redisMissing,
  requireControl,
  routerOptions,
  startRedis,
  startTestCluster,
} from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import { Queue, Worker } from 'bullmq'
import express from 'express'
import { Logger, makeWorkerUtils, run } from 'graphile-worker'
import PgBoss from 'pg-boss'
import { afterAll, beforeAll, describe, it } from 'vitest'
import * as bullmqJobs from '../src/bullmq-jobs.js'
import * as graphileJobs from '../src/graphile-worker-jobs.js'
import * as pgBossJobs from '../src/pg-boss-jobs.js'
import { migrate } from '../src/schema.js'
import { findUser, insertUser, type User, type Welcome } from '../src/users.js'
import {
  expectNoStaleRead,
  expectStaleReads,
  type ReadAfterWrite,
  readAfterWrite,
} from './read-after-write.js'
import { serve } from './server.js'

const ITERATIONS = 200
/** Requests in flight at once: each waits for its job to run. */
const CONCURRENCY = 16
const LATE = 'a replica that replays WAL 2 s late'
const quiet = new Logger(() => () => {})

let cluster: Cluster
let router: Router
let replicaPorts: Set<number>
let redis: RedisServer | undefined
const noRedis = redisMissing()

beforeAll(async () => {
  // replica-2 applies WAL two seconds after the primary wrote it: a read there right after a write misses it.
  cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
  router = createRouter(routerOptions(cluster))
  await router.ready()
  await migrate(router)
  await cluster.waitForReplication({ replicas: cluster.replicas })
  replicaPorts = new Set(cluster.replicas.map((replica) => replica.port))
  if (noRedis === undefined) redis = await startRedis()
})

afterAll(async () => {
  await redis?.stop()
  await router?.end()
  await cluster?.stop()
})

/** What the welcome jobs read, by user id: each iteration waits for its own job. */
class Welcomes {
  readonly #waiting = new Map<number, (user: User | undefined) => void>()
  readonly #arrived = new Map<number, User | undefined>()

  readonly welcome: Welcome = async (userId, user) => {
    const waiter = this.#waiting.get(userId)
    if (waiter) waiter(user)
    else this.#arrived.set(userId, user)
  }

  /** What the job for `userId` read (rejects after 30 s without it). */
  of(userId: number): Promise<User | undefined> {
    if (this.#arrived.has(userId)) return Promise.resolve(this.#arrived.get(userId))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no welcome job ran for user ${userId} in 30 s`)),
        30_000,
      )
      this.#waiting.set(userId, (user) => {
        clearTimeout(timer)
        resolve(user)
      })
    })
  }
}

/** Signs up `ITERATIONS` users through `app` and reads what each one's welcome job saw. */
async function signUps(app: express.Express, welcomes: Welcomes): Promise<ReadAfterWrite> {
  const { base, stop } = await serve(createServer(app))
  try {
    return await readAfterWrite(
      ITERATIONS,
      replicaPorts,
      async (i) => {
        const answer = await fetch(`${base}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: `user${i}@example.com` }),
        })
        if (answer.status !== 201)
          throw new Error(`POST /users answered ${answer.status}: ${await answer.text()}`)
        const { id } = (await answer.json()) as { id: number }
        const user = await welcomes.of(id)
        return { fresh: user !== undefined, servedBy: user?.servedBy }
      },
      CONCURRENCY,
    )
  } finally {
    await stop()
  }
}

/** The naive app: the same route, enqueuing the job without the request's token. */
function plainSignupApp(enqueue: (userId: number) => Promise<unknown>): express.Express {
  return express()
    .use(express.json())
    .post('/users', async (req, res) => {
      const userId = await insertUser(router, req.body.email)
      await enqueue(userId)
      res.status(201).json({ id: userId })
    })
}

describe('pg-boss', () => {
  let boss: PgBoss

  beforeAll(async () => {
    boss = new PgBoss({ connectionString: cluster.primary.url })
    await boss.start()
  })

  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true })
  })

  it(`each job reads its request's write, over ${ITERATIONS} jobs`, async (context) => {
    requireControl(context, LATE)
    const welcomes = new Welcomes()
    const worker = await pgBossJobs.startWelcomeWorker(router, boss, welcomes.welcome)
    try {
      expectNoStaleRead(
        'pg-boss, with @pgroute/jobs',
        await signUps(pgBossJobs.signupApp(router, boss), welcomes),
      )
    } finally {
      await boss.offWork(worker)
    }
  })

  it('jobs miss writes without the integration', async (context) => {
    requireControl(context, LATE)
    const welcomes = new Welcomes()
    await boss.createQueue('welcome-plain')
    const worker = await boss.work<{ userId: number }>(
      'welcome-plain',
      { pollingIntervalSeconds: 0.5, batchSize: 10 },
      async (jobs) => {
        for (const job of jobs)
          await welcomes.welcome(job.data.userId, await findUser(router, job.data.userId))
      },
    )
    try {
      const app = plainSignupApp((userId) => boss.send('welcome-plain', { userId }))
      expectStaleReads('pg-boss, without it', await signUps(app, welcomes))
    } finally {
      await boss.offWork(worker)
    }
  })
})

describe('graphile-worker', () => {
  const connectionString = () => cluster.primary.url

  it(`each job reads its request's write, over ${ITERATIONS} jobs`, async (context) => {
    requireControl(context, LATE)
    const welcomes = new Welcomes()
    const options = {
      connectionString: connectionString(),
      concurrency: 8,
      noHandleSignals: true,
      logger: quiet,
    }
    const runner = await graphileJobs.startWelcomeWorker(router, options, welcomes.welcome)
    const utils = await makeWorkerUtils({ connectionString: connectionString(), logger: quiet })
    try {
      const app = graphileJobs.signupApp(router, utils)
      expectNoStaleRead('graphile-worker, with @pgroute/jobs', await signUps(app, welcomes))
    } finally {
      await runner.stop()
      await utils.release()
    }
  })

  it('jobs miss writes without the integration', async (context) => {
    requireControl(context, LATE)
    const welcomes = new Welcomes()
    const runner = await run({
      connectionString: connectionString(),
      concurrency: 8,
      noHandleSignals: true,
      logger: quiet,
      taskList: {
        'welcome-plain': async (payload) => {
          const { userId } = payload as { userId: number }
          await welcomes.welcome(userId, await findUser(router, userId))
        },
      },
    })
    const utils = await makeWorkerUtils({ connectionString: connectionString(), logger: quiet })
    try {
      const app = plainSignupApp((userId) => utils.addJob('welcome-plain', { userId }))
      expectStaleReads('graphile-worker, without it', await signUps(app, welcomes))
    } finally {
      await runner.stop()
      await utils.release()
    }
  })
})

describe('bullmq', () => {
  const connection = () => ({ host: redis!.host, port: redis!.port, maxRetriesPerRequest: null })

  it(`each job reads its request's write, over ${ITERATIONS} jobs`, async (context) => {
    requireControl(context, LATE)
    if (noRedis !== undefined) return context.skip(noRedis)
    const welcomes = new Welcomes()
    const queue = new Queue('welcome', { connection: connection() })
    const worker = bullmqJobs.startWelcomeWorker(router, connection(), welcomes.welcome)
    try {
      expectNoStaleRead(
        'bullmq, with @pgroute/jobs',
        await signUps(bullmqJobs.signupApp(router, queue), welcomes),
      )
    } finally {
      await worker.close()
      await queue.close()
    }
  })

  it('jobs miss writes without the integration', async (context) => {
    requireControl(context, LATE)
    if (noRedis !== undefined) return context.skip(noRedis)
    const welcomes = new Welcomes()
    const queue = new Queue('welcome-plain', { connection: connection() })
    const worker = new Worker<{ userId: number }>(
      'welcome-plain',
      async (job) => welcomes.welcome(job.data.userId, await findUser(router, job.data.userId)),
      { connection: connection(), concurrency: 8 },
    )
    try {
      const app = plainSignupApp((userId) => queue.add('welcome', { userId }))
      expectStaleReads('bullmq, without it', await signUps(app, welcomes))
    } finally {
      await worker.close()
      await queue.close()
    }
  })
})
