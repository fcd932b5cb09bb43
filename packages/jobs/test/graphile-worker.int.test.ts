import { Logger, makeWorkerUtils, run } from 'graphile-worker'

/** Failed attempts are expected here (and reported to the contract): keep the worker quiet. */
const quiet = new Logger(() => () => {})

import { inSession } from '../src/graphile-worker.js'
import { describeQueue, type Payload } from './helpers/queue-contract.js'

describeQueue(
  'graphile-worker',
  async ({ cluster, router }, name, { attempts, ...options }, { handle, failed }) => {
    const task = inSession(
      router,
      async (payload: unknown, helpers) => handle(payload as Payload, helpers.job.attempts),
      options,
    )
    const runner = await run({
      connectionString: cluster.primary.url,
      concurrency: 4,
      noHandleSignals: true,
      pollInterval: 200,
      logger: quiet,
      taskList: {
        [name]: async (payload, helpers) => {
          try {
            await task(payload, helpers)
          } catch (error) {
            failed(error)
            throw error
          }
        },
      },
    })
    const utils = await makeWorkerUtils({ connectionString: cluster.primary.url, logger: quiet })
    return {
      enqueue: async (payload) => {
        await utils.addJob(name, payload, { maxAttempts: attempts })
      },
      async stop() {
        await runner.stop()
        await utils.release()
      },
    }
  },
)
