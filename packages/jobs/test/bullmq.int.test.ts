import { type RedisServer, redisMissing, startRedis } from '@pgroute/cluster/testing'
import { Queue, Worker } from 'bullmq'
import { afterAll, beforeAll } from 'vitest'
import { inSession } from '../src/bullmq.js'
import { describeQueue, type Payload } from './helpers/queue-contract.js'

const missing = redisMissing()
let redis: RedisServer | undefined

beforeAll(async () => {
  if (missing === undefined) redis = await startRedis()
})

afterAll(async () => {
  await redis?.stop()
})

describeQueue(
  'bullmq',
  async ({ router }, name, { attempts, ...options }, { handle, failed }) => {
    const connection = { host: redis!.host, port: redis!.port, maxRetriesPerRequest: null }
    const queue = new Queue<Payload>(name, { connection })
    const processor = inSession(
      router,
      async (job) => handle(job.data as Payload, job.attemptsMade + 1),
      options,
    )
    const worker = new Worker<Payload>(
      name,
      async (job, token, signal) => {
        try {
          return await processor(job, token, signal)
        } catch (error) {
          failed(error)
          throw error
        }
      },
      { connection, concurrency: 4 },
    )
    await worker.waitUntilReady()
    return {
      enqueue: async (payload) => {
        await queue.add('job', payload, {
          attempts,
          backoff: { type: 'fixed', delay: 200 },
          removeOnComplete: true,
        })
      },
      async stop() {
        await worker.close()
        await queue.obliterate({ force: true })
        await queue.close()
      },
    }
  },
  missing,
)
