import type { Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/express'
import { carryToken } from '@pgroute/jobs'
import { inSession } from '@pgroute/jobs/bullmq'
import { type ConnectionOptions, type Queue, Worker } from 'bullmq'
import express from 'express'
import { findUser, insertUser, type Welcome } from './users.js'

/** POST /users: signs the user up and enqueues a welcome job carrying this request's token. */
export function signupApp(router: Router, queue: Queue): express.Express {
  const app = express()
  app.use(readYourWrites({ router }))
  app.use(express.json())
  app.post('/users', async (req, res) => {
    const userId = await insertUser(router, req.body.email)
    await queue.add('welcome', await carryToken(router, { userId })) // { userId, pgrouteToken }
    res.status(201).json({ id: userId })
  })
  return app
}

/** The welcome worker: each job reads the user its request wrote (a replica that has it, else the primary). */
export function startWelcomeWorker(router: Router, connection: ConnectionOptions, welcome: Welcome): Worker {
  return new Worker<{ userId: number }>(
    'welcome',
    inSession(router, async (job) => welcome(job.data.userId, await findUser(router, job.data.userId)), {
      consistency: 'sticky',
    }),
    { connection, concurrency: 8 },
  )
}
