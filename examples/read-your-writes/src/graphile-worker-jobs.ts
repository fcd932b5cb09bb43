import type { Router } from '@pgroute/core'
import { readYourWrites } from '@pgroute/http/express'
import { carryToken } from '@pgroute/jobs'
import { inSession } from '@pgroute/jobs/graphile-worker'
import express from 'express'
import type { Runner, RunnerOptions, WorkerUtils } from 'graphile-worker'
import { run } from 'graphile-worker'
import { findUser, insertUser, type Welcome } from './users.js'

/** POST /users: signs the user up and enqueues a welcome job carrying this request's token. */
export function signupApp(router: Router, workerUtils: WorkerUtils): express.Express {
  const app = express()
  app.use(readYourWrites({ router }))
  app.use(express.json())
  app.post('/users', async (req, res) => {
    const userId = await insertUser(router, req.body.email)
    await workerUtils.addJob('welcome', await carryToken(router, { userId })) // { userId, pgrouteToken }
    res.status(201).json({ id: userId })
  })
  return app
}

/** The welcome worker: each job reads the user its request wrote (a replica that has it, else the primary). */
export function startWelcomeWorker(
  router: Router,
  options: Omit<RunnerOptions, 'taskList'>,
  welcome: Welcome,
): Promise<Runner> {
  return run({
    ...options,
    taskList: {
      welcome: inSession(
        router,
        async (payload) => {
          const { userId } = payload as { userId: number }
          await welcome(userId, await findUser(router, userId))
        },
        { consistency: 'sticky' },
      ),
    },
  })
}
