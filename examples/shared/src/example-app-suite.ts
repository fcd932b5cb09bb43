import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster } from '@pgroute/cluster'
import {
  MIN_REPLICA_SHARE,
  replicaShare,
  requireControl,
  requirePassword,
  routerOptions,
  startTestCluster,
} from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import { TOKEN_HEADER } from '@pgroute/http'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { healthRoute } from './health-route.js'
import { NODE_HEADER } from './served-by.js'
import type { BuildApp } from './service-builder.js'

/** Options of {@link describeExampleApp}. */
export interface ExampleAppSuiteOptions {
  /** Names the suite (`kysely-app`). */
  readonly name: string
  /** The app under test. */
  readonly buildApp: BuildApp
}

/** Port of the server named in a response's `x-pgroute-node` header (`127.0.0.1:54321`). */
function nodePort(headers: Record<string, unknown>): number | undefined {
  const value = headers[NODE_HEADER]
  return typeof value === 'string' ? Number(value.slice(value.lastIndexOf(':') + 1)) : undefined
}

async function createPost(app: FastifyInstance, title: string, token?: string) {
  const response = await app.inject({
    method: 'POST',
    url: '/posts',
    headers: token ? { [TOKEN_HEADER]: token } : {},
    payload: { title, body: `body of ${title}` },
  })
  expect(response.statusCode).toBe(201)
  const token2 = response.headers[TOKEN_HEADER]
  expect(typeof token2).toBe('string')
  return { id: response.json().post.id as number, token: token2 as string, port: nodePort(response.headers) }
}

/**
 * The integration suite every example app must pass, against a real cluster (one replica 2 s late; or the external
 * cluster of `PGROUTE_PRIMARY_URL`, where the tests that need the late replica are skipped) through
 * `app.inject()`: read-your-writes across requests with the token, a control showing reads without it do miss,
 * comments, listing, 404s, malformed tokens (400, nothing written), the `/status` shape and `/health`.
 *
 * @example
 * ```ts
 * describeExampleApp({ name: 'kysely-app', buildApp })
 * ```
 */
export function describeExampleApp(options: ExampleAppSuiteOptions): void {
  describe(options.name, () => {
    let cluster: Cluster
    let router: Router
    let app: FastifyInstance

    beforeAll(async () => {
      // The second replica replays WAL 2 s late: a read routed to it right after a write would miss the write.
      cluster = await startTestCluster({ replicas: 2, replicaOptions: [{}, { applyDelay: '2s' }] })
      router = createRouter(routerOptions(cluster))
      await router.ready()
      app = await options.buildApp({ router })
    })

    afterAll(async () => {
      await app?.close()
      await router?.end()
      await cluster?.stop()
    })

    describe('read-your-writes across requests', () => {
      it('finds every post right after creating it when the token is sent back', async (context) => {
        requireControl(context, 'a replica that replays WAL 2 s late')
        const iterations = 300
        const servedBy = new Map<number | undefined, number>()
        let token: string | undefined
        let misses = 0
        for (let i = 0; i < iterations; i++) {
          const created = await createPost(app, `post ${i}`, token)
          expect(created.port).toBe(cluster.primary.port)
          const read = await app.inject({
            url: `/posts/${created.id}`,
            headers: { [TOKEN_HEADER]: created.token },
          })
          if (read.statusCode === 404) misses++
          else {
            expect(read.statusCode).toBe(200)
            expect(read.json().post).toMatchObject({ id: created.id, title: `post ${i}`, comments: [] })
            const port = nodePort(read.headers)
            servedBy.set(port, (servedBy.get(port) ?? 0) + 1)
          }
          token = read.headers[TOKEN_HEADER] as string
        }
        expect(misses).toBe(0)
        // The late replica never had the post in time; the prompt replica (or the primary) served the reads.
        expect(servedBy.get(cluster.replicas[1]!.port)).toBeUndefined()
        expect(servedBy.get(cluster.replicas[0]!.port)).toBeGreaterThan(0)
        expect([...servedBy.keys()].every((port) => port !== undefined)).toBe(true)
      })

      it('misses fresh posts without the token (control: the late replica serves reads)', async (context) => {
        requireControl(context, 'a replica that replays WAL 2 s late')
        // Until the router sees the late replica past the schema, the app's own token keeps every read off it.
        await cluster.waitForReplication({ replicas: [cluster.replicas[1]!] })
        let misses = 0
        for (let i = 0; i < 200 && misses < 3; i++) {
          const created = await createPost(app, `anonymous ${i}`)
          const read = await app.inject({ url: `/posts/${created.id}` })
          expect([200, 404]).toContain(read.statusCode)
          if (read.statusCode === 404) misses++
          await sleep(10)
        }
        expect(misses).toBe(3)
      })

      it('sees its own comment in the post it reads next, mostly on a replica', async () => {
        const servedBy: Array<number | undefined> = []
        for (let i = 0; i < 20; i++) {
          const post = await createPost(app, `commented ${i}`)
          const comment = await app.inject({
            method: 'POST',
            url: `/posts/${post.id}/comments`,
            headers: { [TOKEN_HEADER]: post.token },
            payload: { body: `first! ${i}` },
          })
          expect(comment.statusCode).toBe(201)
          expect(nodePort(comment.headers)).toBe(cluster.primary.port)
          const read = await app.inject({
            url: `/posts/${post.id}`,
            headers: { [TOKEN_HEADER]: comment.headers[TOKEN_HEADER] as string },
          })
          expect(read.statusCode).toBe(200)
          expect(read.json().post.comments).toEqual([
            expect.objectContaining({ id: comment.json().comment.id, body: `first! ${i}` }),
          ])
          servedBy.push(nodePort(read.headers))
        }
        // Not by reading everything from the primary: replicas that replayed the comment served the reads.
        expect(replicaShare(servedBy, cluster)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
      })

      it('lists the newest posts, including the one just created, mostly on a replica', async () => {
        // Enough posts of its own, whether or not the tests above ran (they need the late replica).
        for (let i = 0; i < 4; i++) await createPost(app, `older ${i}`)
        const servedBy: Array<number | undefined> = []
        for (let i = 0; i < 20; i++) {
          const post = await createPost(app, `newest ${i}`)
          const list = await app.inject({ url: '/posts?limit=5', headers: { [TOKEN_HEADER]: post.token } })
          expect(list.statusCode).toBe(200)
          const { posts } = list.json()
          expect(posts).toHaveLength(5)
          expect(posts[0]).toMatchObject({ id: post.id, title: `newest ${i}` })
          servedBy.push(nodePort(list.headers))
        }
        expect(servedBy.every((port) => cluster.nodes.some((node) => node.port === port))).toBe(true)
        expect(replicaShare(servedBy, cluster)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
      })

      it('answers 404 for a missing post and for a comment on one', async () => {
        const read = await app.inject({ url: '/posts/2147483647' })
        expect(read.statusCode).toBe(404)
        const comment = await app.inject({
          method: 'POST',
          url: '/posts/2147483647/comments',
          payload: { body: 'x' },
        })
        expect(comment.statusCode).toBe(404)
        expect(comment.json()).toMatchObject({ message: 'No such post' })
      })
    })

    describe('token validation', () => {
      it.each(['nonsense', '0/', 'G/1', "0/1' OR 1=1"])(
        'answers 400 to the malformed token %j',
        async (bad) => {
          const response = await app.inject({ url: '/posts', headers: { [TOKEN_HEADER]: bad } })
          expect(response.statusCode).toBe(400)
          expect(response.json()).toMatchObject({
            statusCode: 400,
            message: expect.stringContaining(TOKEN_HEADER),
          })
        },
      )

      it('writes nothing when the token of a write is malformed', async () => {
        const before = await cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM posts')
        const response = await app.inject({
          method: 'POST',
          url: '/posts',
          headers: { [TOKEN_HEADER]: 'not-a-token' },
          payload: { title: 'rejected', body: 'rejected' },
        })
        expect(response.statusCode).toBe(400)
        const after = await cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM posts')
        expect(after.rows[0]!.n).toBe(before.rows[0]!.n)
      })

      it('clamps a well-formed token ahead of the primary (it cannot pin the read to the primary)', async () => {
        const response = await app.inject({ url: '/posts?limit=1', headers: { [TOKEN_HEADER]: 'FF/0' } })
        expect(response.statusCode).toBe(200)
        expect(cluster.replicas.map((replica) => replica.port)).toContain(nodePort(response.headers))
      })
    })

    describe('GET /status', () => {
      it('lists the primary then both replicas, without credentials', async () => {
        const response = await app.inject({ url: '/status' })
        expect(response.statusCode).toBe(200)
        const { nodes } = response.json()
        expect(nodes.map((node: { role: string }) => node.role)).toEqual(['primary', 'replica', 'replica'])
        expect(nodes.slice(1).map((node: { name: string }) => node.name)).toEqual(['replica-1', 'replica-2'])
        for (const node of nodes) {
          expect(node).toMatchObject({
            state: expect.any(String),
            healthy: expect.any(Boolean),
            lagBytes: expect.any(Number),
            lagSeconds: expect.any(Number),
            served: expect.any(Number),
          })
        }
        expect(nodes[0].served).toBeGreaterThan(0)
      })

      it('shows no password', async (context) => {
        const password = requirePassword(context, cluster)
        const response = await app.inject({ url: '/status' })
        expect(response.body).not.toContain(password)
      })
    })

    describe('GET /health', () => {
      it('answers 200 with ok and no problems while every node is up', async () => {
        const response = await app.inject({ url: '/health' })
        expect(response.statusCode).toBe(200)
        expect(response.json()).toMatchObject({ ok: true, problems: [], primary: { role: 'primary' } })
        expect(response.json().replicas).toHaveLength(2)
      })

      it('answers 503 naming the primary when it refuses the login, without the password', async () => {
        const secret = 'wrong-password-for-health'
        const url = new URL(cluster.primary.url)
        // A role that does not exist, with a wrong password: refused on every cluster, also one that trusts
        // its clients (a wrong password alone would be accepted there).
        url.username = 'pgroute_no_such_role'
        url.password = secret
        const broken = createRouter({ primary: url.toString(), replicas: [cluster.replicas[0]!.url] })
        const probe = Fastify()
        healthRoute(probe, broken)
        try {
          await broken.ready().catch(() => {})
          const response = await probe.inject({ url: '/health' })
          expect(response.statusCode).toBe(503)
          expect(response.json().ok).toBe(false)
          expect(response.json().problems[0]).toMatch(
            /^primary .* is down: (password authentication failed|role "pgroute_no_such_role" does not exist)/,
          )
          expect(response.body).not.toContain(secret)
        } finally {
          await probe.close()
          await broken.end()
        }
      })
    })
  })
}
