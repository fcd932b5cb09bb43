import { waitFor } from '@pgroute/cluster/testing'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { carryToken, isReplicaLagError, type JobSessionOptions } from '../../src/index.js'
import { type Harness, pauseReplicas, startHarness } from './harness.js'

/** A job's payload in these tests: the signup to read, and the token `carryToken()` added. */
export interface Payload {
  readonly id: number
  readonly pgrouteToken?: string
}

/** What a job saw: whether its signup was there, which kind of node said so, and on which attempt. */
export interface Seen {
  readonly found: boolean
  readonly role: 'primary' | 'replica'
  readonly attempt: number
}

/** A worker of the queue under test, wrapped by the queue's `inSession()`. */
export interface TestWorker {
  enqueue(payload: Payload): Promise<void>
  stop(): Promise<void>
}

/** What the worker's handler calls: `handle` for each job, `failed` with the error of each failed attempt. */
export interface Handlers {
  handle(payload: Payload, attempt: number): Promise<void>
  failed(error: unknown): void
}

/**
 * Starts a worker for a new queue named `name`, whose handler (wrapped by `inSession(router, …, options)`)
 * calls `handle` with the payload and the attempt number, and reports failed attempts to `failed`. Jobs get
 * `attempts` attempts, retried after a short delay.
 */
export type StartWorker = (
  harness: Harness,
  name: string,
  options: JobSessionOptions & { readonly attempts: number },
  handlers: Handlers,
) => Promise<TestWorker>

const JOBS = 20

/** The behaviour every queue's `inSession()` must have, against a cluster whose second replica is 2 s late. */
export function describeQueue(name: string, startWorker: StartWorker, skip?: string): void {
  describe(name, () => {
    let h: Harness
    const workers: TestWorker[] = []

    beforeAll(async () => {
      if (skip === undefined) h = await startHarness([{}, { applyDelay: '2s' }])
    })

    beforeEach((context) => {
      if (skip !== undefined) context.skip(skip)
    })

    afterEach(async () => {
      await Promise.all(workers.splice(0).map((worker) => worker.stop()))
      if (h) await Promise.all(h.cluster.replicas.filter((r) => r.replayPaused).map((r) => r.resumeReplay()))
    })

    afterAll(async () => {
      await h?.stop()
    })

    /** A request: signs up someone and enqueues a job for it, carrying the request's token. */
    async function request(worker: TestWorker, email: string): Promise<number> {
      return h.router.session(async () => {
        const id = await h.signUp(email)
        await worker.enqueue(await carryToken(h.router, { id }))
        return id
      })
    }

    /** Starts a worker recording what each job saw (and the errors of failed attempts). */
    async function recordingWorker(queue: string, options: JobSessionOptions & { attempts: number }) {
      const seen = new Map<number, Seen>()
      const unexpected: unknown[] = []
      const worker = await startWorker(h, queue, options, {
        handle: async (payload, attempt) => {
          seen.set(payload.id, { ...(await h.readSignup(payload.id)), attempt })
        },
        failed: (error) => unexpected.push(error),
      })
      workers.push(worker)
      /** Whether `count` jobs ran; throws the first failure, none being expected. */
      const ran = (count: number) => () => {
        if (unexpected.length > 0) throw unexpected[0]
        return seen.size === count
      }
      return { worker, seen, ran }
    }

    it('sticky: each job reads the write of the request that enqueued it', async () => {
      const { worker, seen, ran } = await recordingWorker(`${name}-sticky`, { attempts: 1 })
      const ids = []
      for (let i = 0; i < JOBS; i++) ids.push(await request(worker, `sticky-${i}@example.com`))
      await waitFor(ran(JOBS), 60_000, 'every job to run')
      expect(ids.map((id) => seen.get(id)?.found)).toEqual(Array(JOBS).fill(true))
    })

    it('always: every job reads on the primary', async () => {
      const { worker, seen, ran } = await recordingWorker(`${name}-always`, {
        attempts: 1,
        consistency: 'always',
      })
      await h.cluster.waitForReplication()
      for (let i = 0; i < 5; i++) await request(worker, `always-${i}@example.com`)
      await waitFor(ran(5), 60_000, 'every job to run')
      expect([...seen.values()].map(({ found, role }) => ({ found, role }))).toEqual(
        Array(5).fill({ found: true, role: 'primary' }),
      )
    })

    it('delayed: the queue retries the job until a replica has replayed its token', async (context) => {
      const errors: unknown[] = []
      const seen = new Map<number, Seen>()
      const worker = await startWorker(
        h,
        `${name}-delayed`,
        { attempts: 10, consistency: 'delayed', maxWaitMs: 100, pollMs: 20 },
        {
          handle: async (payload, attempt) => {
            seen.set(payload.id, { ...(await h.readSignup(payload.id)), attempt })
          },
          failed: (error) => errors.push(error),
        },
      )
      workers.push(worker)
      await pauseReplicas(h, context)
      const id = await request(worker, 'delayed@example.com')
      await waitFor(() => errors.length > 0, 60_000, 'a first attempt to fail')
      expect(seen.has(id)).toBe(false)
      await h.cluster.replicas[0]!.resumeReplay()
      await waitFor(() => seen.has(id), 60_000, 'the job to run')
      expect(seen.get(id)).toMatchObject({ found: true, role: 'replica' })
      expect(seen.get(id)!.attempt).toBeGreaterThan(1)
      expect(errors.length).toBeGreaterThan(0)
      expect(errors.every(isReplicaLagError)).toBe(true)
    })
  })
}
