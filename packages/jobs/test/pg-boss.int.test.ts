import PgBoss from 'pg-boss'
import { inSession } from '../src/pg-boss.js'
import { describeQueue, type Payload } from './helpers/queue-contract.js'

describeQueue('pg-boss', async ({ cluster, router }, name, { attempts, ...options }, { handle, failed }) => {
  const boss = new PgBoss({ connectionString: cluster.primary.url, max: 4 })
  boss.on('error', failed)
  await boss.start()
  await boss.createQueue(name)
  const handler = inSession(
    router,
    async (jobs: PgBoss.JobWithMetadata<Payload>[]) => {
      for (const job of jobs) await handle(job.data, job.retryCount + 1)
    },
    options,
  )
  await boss.work<Payload>(
    name,
    { includeMetadata: true, pollingIntervalSeconds: 0.5, batchSize: 4 },
    async (jobs) => {
      try {
        return await handler(jobs)
      } catch (error) {
        failed(error)
        throw error
      }
    },
  )
  return {
    enqueue: async (payload) => {
      await boss.send(name, payload, { retryLimit: attempts - 1, retryDelay: 1 })
    },
    async stop() {
      await boss.stop({ graceful: false, wait: true })
    },
  }
})
