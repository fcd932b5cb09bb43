import { isToken } from '@pgroute/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from './harness.js'

/**
 * The routes every framework's test app serves, each through the framework's own routing and body parsing:
 *
 * - `POST /notes` (JSON `{ body }`): inserts a note, answers 201 `{ id }`.
 * - `GET /notes/:id`: `{ body, port }` (the server that read it), or 404.
 * - `GET /session` and `POST /session` (any JSON body, parsed by the framework): `{ token }`, the handler's
 *   `router.token()` (`null` outside a session).
 */
export interface TestApp {
  readonly base: string
  stop(): Promise<void>
}

/** Starts the app under test over `harness.router`, with the integration's `cookie` option set to `true`. */
export type StartApp = (harness: Harness) => Promise<TestApp>

export interface Answer {
  readonly status: number
  readonly token: string | null
  readonly cookie: string | null
  readonly body: unknown
}

/** One HTTP call; `token` goes in the `x-pgroute-token` header, `cookie` in the `Cookie` header. */
export async function call(
  base: string,
  path: string,
  options: { method?: string; body?: unknown; token?: string; cookie?: string; slow?: boolean } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  if (options.token !== undefined) headers['x-pgroute-token'] = options.token
  if (options.cookie !== undefined) headers.cookie = options.cookie
  const response = await fetch(`${base}${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body:
      options.body === undefined
        ? undefined
        : options.slow
          ? slowly(JSON.stringify(options.body))
          : JSON.stringify(options.body),
    redirect: 'manual',
    ...(options.slow ? { duplex: 'half' } : {}),
  } as RequestInit)
  const text = await response.text()
  const cookie = response.headers.getSetCookie().find((value) => value.startsWith('pgroute-token='))
  return {
    status: response.status,
    token: response.headers.get('x-pgroute-token'),
    cookie: cookie ?? null,
    body: text.startsWith('{') ? JSON.parse(text) : text,
  }
}

/**
 * `text` as a request body sent in two parts 50 ms apart: the rest of the body then reaches the server in a
 * later event of the socket, outside any async context the request's handling started.
 */
function slowly(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text)
  const half = Math.floor(bytes.length / 2)
  return new ReadableStream({
    async start(controller) {
      controller.enqueue(bytes.slice(0, half))
      await new Promise((resolve) => setTimeout(resolve, 50))
      controller.enqueue(bytes.slice(half))
      controller.close()
    },
  })
}

const ITERATIONS = 20

/**
 * The behaviour every framework integration must have, against a cluster whose second replica replays WAL 2 s
 * late (so a read that ignores the token can miss the write). `extra` adds the framework's own cases.
 */
export function describeFramework(
  name: string,
  start: StartApp,
  extra?: (context: { harness: () => Harness; app: () => TestApp }) => void,
): void {
  describe(name, () => {
    let harness: Harness
    let app: TestApp

    beforeAll(async () => {
      harness = await startHarness([{}, { applyDelay: '2s' }])
      app = await start(harness)
    })

    afterAll(async () => {
      await app?.stop()
      await harness?.stop()
    })

    it('answers a write with its token (header and cookie), and the next request reads the write', async () => {
      for (let i = 0; i < ITERATIONS; i++) {
        const created = await call(app.base, '/notes', { body: { body: `note ${i}` } })
        expect(created.status).toBe(201)
        expect(isToken(created.token)).toBe(true)
        expect(created.cookie).toBe(`pgroute-token=${created.token}; Path=/; HttpOnly; SameSite=Lax`)
        const { id } = created.body as { id: number }
        const read = await call(app.base, `/notes/${id}`, { token: created.token! })
        expect(read.status).toBe(200)
        expect(read.body).toMatchObject({ body: `note ${i}` })
        expect(read.token).toBe(created.token)
      }
    })

    it('continues from the cookie alone', async () => {
      for (let i = 0; i < ITERATIONS; i++) {
        const created = await call(app.base, '/notes', { body: { body: `cookie ${i}` } })
        const { id } = created.body as { id: number }
        const cookie = created.cookie!.split(';')[0]!
        const read = await call(app.base, `/notes/${id}`, { cookie: `theme=dark; ${cookie}` })
        expect(read.status).toBe(200)
        expect(read.body).toMatchObject({ body: `cookie ${i}` })
      }
    })

    it('runs the handler in the session, before and after the framework parsed a body', async () => {
      const { token } = await call(app.base, '/notes', { body: { body: 'token source' } })
      const plain = await call(app.base, '/session', { token: token! })
      expect(plain.body).toEqual({ token })
      const parsed = await call(app.base, '/session', { body: { some: 'json' }, token: token! })
      expect(parsed.body).toEqual({ token })
      const late = await call(app.base, '/session', { body: { some: 'json' }, token: token!, slow: true })
      expect(late.body).toEqual({ token })
    })

    it('keeps concurrent requests in sessions of their own', async () => {
      const { token } = await call(app.base, '/notes', { body: { body: 'concurrent' } })
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call(app.base, '/session', {
            ...(i % 2 === 0 ? { token: token! } : {}),
            ...(i % 4 === 1 ? { body: { i } } : {}),
          }),
        ),
      )
      answers.forEach((answer, i) => {
        expect(answer.body, `request ${i}`).toEqual({ token: i % 2 === 0 ? token : null })
      })
    })

    it('sends no token when the request has nothing to see', async () => {
      const answer = await call(app.base, '/session')
      expect(answer.body).toEqual({ token: null })
      expect(answer.token).toBeNull()
      expect(answer.cookie).toBeNull()
    })

    it.each([
      ['header', { token: 'nonsense' }, 'x-pgroute-token header'],
      ['header', { token: "0/1' OR 1=1" }, 'x-pgroute-token header'],
      ['cookie', { cookie: 'pgroute-token=G/1' }, 'pgroute-token cookie'],
    ])('answers 400 to a malformed token in the %s, and runs nothing', async (_where, sent, named) => {
      const before = await harness.cluster.primary.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM notes',
      )
      const answer = await call(app.base, '/notes', { body: { body: 'rejected' }, ...sent })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        code: 'PGROUTE_INVALID_TOKEN',
        message: `Invalid ${named}: expected a token from an earlier response, like '0/3000060@1'`,
      })
      const after = await harness.cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM notes')
      expect(after.rows[0]!.n).toBe(before.rows[0]!.n)
    })

    extra?.({ harness: () => harness, app: () => app })
  })
}
