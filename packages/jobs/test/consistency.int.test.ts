import { waitFor } from '@pgroute/cluster/testing'
import { isConfigError, isToken, parseLsn } from '@pgroute/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { carryToken, isReplicaLagError, runInJobSession, TOKEN_KEY, tokenOf } from '../src/index.js'
import { type Harness, pauseReplicas, startHarness } from './helpers/harness.js'

let h: Harness

beforeAll(async () => {
  h = await startHarness([{}, {}])
})

afterEach(async () => {
  // Tests that pause the replicas resume them.
  await Promise.all(
    h.cluster.replicas.filter((replica) => replica.replayPaused).map((replica) => replica.resumeReplay()),
  )
})

afterAll(async () => {
  await h?.stop()
})

/** A request: signs up `email` in a session and returns the job payload it would enqueue. */
function request(email: string): Promise<{ id: number; pgrouteToken?: string }> {
  return h.router.session(async () => carryToken(h.router, { id: await h.signUp(email) }))
}

/** Waits until the router's probes show replica `name` has replayed `token`. */
async function routerSees(name: string, token: string): Promise<void> {
  const wanted = parseLsn(token.split('@')[0]!)!
  await waitFor(
    () => {
      const lsn = h.router.status().find((node) => node.name === name)?.lsn
      return lsn !== null && lsn !== undefined && parseLsn(lsn)! >= wanted
    },
    10_000,
    `the router to see ${name} replay ${token}`,
  )
}

describe('carryToken', () => {
  it("adds the session's token to the payload, and nothing outside a session", async () => {
    const payload = await request('carry@example.com')
    expect(isToken(payload[TOKEN_KEY])).toBe(true)
    expect(tokenOf(payload)).toBe(payload[TOKEN_KEY])
    expect(await carryToken(h.router, { id: 1 })).toEqual({ id: 1 })
  })

  it.each([[null], [[1, 2]], ['text']])('rejects the payload %j', async (payload) => {
    await expect(carryToken(h.router, payload as never)).rejects.toThrow(TypeError)
  })
})

describe('runInJobSession', () => {
  it('sticky: reads what the request wrote, from a replica once one has replayed it', async (context) => {
    await pauseReplicas(h, context)
    const payload = await request('sticky@example.com')
    const job = { token: tokenOf(payload), attempt: 1, attempts: 3 }
    // No replica has replayed the write yet: the primary.
    expect(await runInJobSession(h.router, job, () => h.readSignup(payload.id))).toEqual({
      found: true,
      role: 'primary',
    })
    await h.cluster.replicas[0]!.resumeReplay()
    await routerSees(h.cluster.replicas[0]!.name, payload[TOKEN_KEY]!)
    expect(await runInJobSession(h.router, job, () => h.readSignup(payload.id))).toEqual({
      found: true,
      role: 'replica',
    })
  })

  it('always: reads on the primary though the replicas have replayed everything', async () => {
    const payload = await request('always@example.com')
    await h.cluster.waitForReplication()
    const job = { token: tokenOf(payload), attempt: 1, attempts: 1 }
    const reads = await runInJobSession(
      h.router,
      job,
      async () => [
        await h.readSignup(payload.id),
        await h.readSignup(payload.id),
        await h.readSignup(payload.id),
      ],
      { consistency: 'always' },
    )
    expect(reads).toEqual(Array(3).fill({ found: true, role: 'primary' }))
    // Without a token at all, too.
    const untokened = await runInJobSession(
      h.router,
      { token: undefined, attempt: 1, attempts: 1 },
      () => h.readSignup(payload.id),
      { consistency: 'always' },
    )
    expect(untokened).toEqual({ found: true, role: 'primary' })
  })

  it('always: after its own write, the job reads that write, on the primary', async () => {
    const job = { token: undefined, attempt: 1, attempts: 1 }
    const read = await runInJobSession(
      h.router,
      job,
      async () => h.readSignup(await h.signUp('own@example.com')),
      {
        consistency: 'always',
      },
    )
    expect(read).toEqual({ found: true, role: 'primary' })
  })

  it('delayed: waits for a replica to replay the token, then reads there', async (context) => {
    await pauseReplicas(h, context)
    const payload = await request('delayed@example.com')
    const started = Date.now()
    setTimeout(() => void h.cluster.replicas[1]!.resumeReplay(), 500)
    const read = await runInJobSession(
      h.router,
      { token: tokenOf(payload), attempt: 1, attempts: 3 },
      () => h.readSignup(payload.id),
      { consistency: 'delayed', maxWaitMs: 5000, pollMs: 50 },
    )
    expect(read).toEqual({ found: true, role: 'replica' })
    // It did wait: no replica had the write before the second one resumed replay.
    expect(Date.now() - started).toBeGreaterThanOrEqual(500)
  })

  it('delayed: no replica in time, retries left: ReplicaLagError, and the job does not run', async (context) => {
    await pauseReplicas(h, context)
    const payload = await request('retry@example.com')
    let ran = false
    const attempt = runInJobSession(
      h.router,
      { token: tokenOf(payload), attempt: 1, attempts: 2 },
      () => {
        ran = true
      },
      { consistency: 'delayed', maxWaitMs: 200, pollMs: 50 },
    )
    const error = await attempt.catch((e: unknown) => e)
    expect(isReplicaLagError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_REPLICA_LAG', token: payload[TOKEN_KEY] })
    expect((error as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(200)
    expect(ran).toBe(false)
  })

  it.for([
    ['on its last attempt', { attempt: 2, attempts: 2 }, {}],
    ["when the queue's attempts are unknown", { attempt: 1, attempts: undefined }, {}],
    ["with onLag: 'primary'", { attempt: 1, attempts: 5 }, { onLag: 'primary' as const }],
  ] as const)(
    'delayed: no replica in time, %s: runs, reading on the primary',
    async ([, counts, options], context) => {
      await pauseReplicas(h, context)
      const payload = await request('last@example.com')
      const read = await runInJobSession(
        h.router,
        { token: tokenOf(payload), ...counts },
        () => h.readSignup(payload.id),
        {
          consistency: 'delayed',
          maxWaitMs: 100,
          pollMs: 50,
          ...options,
        },
      )
      expect(read).toEqual({ found: true, role: 'primary' })
    },
  )

  it('delayed: a wait ends when the worker shuts down', async (context) => {
    await pauseReplicas(h, context)
    const payload = await request('abort@example.com')
    const controller = new AbortController()
    const attempt = runInJobSession(
      h.router,
      { token: tokenOf(payload), attempt: 1, attempts: 3, signal: controller.signal },
      () => 'ran',
      { consistency: 'delayed', maxWaitMs: 60_000, pollMs: 50 },
    )
    setTimeout(() => controller.abort(), 200)
    await expect(attempt).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('rejects a malformed token in a payload with the router error', async () => {
    const job = { token: tokenOf({ [TOKEN_KEY]: 'garbage' }), attempt: 1, attempts: 1 }
    await expect(runInJobSession(h.router, job, () => 1)).rejects.toMatchObject({
      code: 'PGROUTE_INVALID_TOKEN',
    })
  })

  it.each([
    [{ consistency: 'eventual' }, 'consistency'],
    [{ maxWaitMs: -1 }, 'maxWaitMs'],
    [{ pollMs: 0 }, 'pollMs'],
    [{ onLag: 'drop' }, 'onLag'],
  ])('rejects the options %j naming %s', async (options, option) => {
    const job = { token: undefined, attempt: 1, attempts: 1 }
    const error = await runInJobSession(h.router, job, () => 1, options as never).catch((e: unknown) => e)
    expect(isConfigError(error) && error.option).toBe(option)
  })
})
