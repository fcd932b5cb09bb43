import type { Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/express'
import { carryToken } from '@pgroute/jobs'
import { inSession } from '@pgroute/jobs/pg-boss'
import express from 'express'
import type PgBoss from 'pg-boss'
import { findUser, insertUser, type Welcome } from './users.js'

/** POST /users: signs the user up and enqueues a welcome job carrying this request's token. */
export function signupApp(router: Router, boss: PgBoss): express.Express {
  const app = express()
  app.use(readYourWrites({ router }))
  app.use(express.json())
  app.post('/users', async (req, res) => {
    const userId = await insertUser(router, req.body.email)
    await boss.send('welcome', await carryToken(router, { userId })) // { userId, pgrouteToken }
    res.status(201).json({ id: userId })
  })
  return app
}

/** The welcome worker: each job reads the user its request wrote (a replica that has it, else the primary). */
export async function startWelcomeWorker(router: Router, boss: PgBoss, welcome: Welcome): Promise<string> {
  await boss.createQueue('welcome')
  return boss.work<{ userId: number }>(
    'welcome',
    { includeMetadata: true, pollingIntervalSeconds: 0.5, batchSize: 10 },
    inSession(
      router,
      async (jobs) => {
        for (const job of jobs) await welcome(job.data.userId, await findUser(router, job.data.userId))
      },
      { consistency: 'sticky' },
    ),
  )
}
