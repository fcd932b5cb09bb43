import { setTimeout as sleep } from 'node:timers/promises'
import type { ApiClient, ApiResponse, RequestOptions } from './api-client.js'
import type { WorkloadStats } from './workload-stats.js'

/** What the virtual users share: the app, the counters, and the ids of posts created so far. */
export interface WorkloadContext {
  readonly client: ApiClient
  readonly stats: WorkloadStats
  /** Ids of every post created, for readers to pick from (newest last, bounded). */
  readonly postIds: number[]
  /** Pause between a user's steps, in milliseconds. */
  readonly thinkMs: number
  /**
   * Interruption (Ctrl-C): requests under way are cancelled and whatever fails from then on is not counted, since
   * the servers are going down with the demo.
   */
  readonly interrupt: AbortSignal | undefined
}

const LIST_LIMIT = 20
const MAX_SHARED_IDS = 1000

function pick<T>(items: readonly T[]): T | undefined {
  return items[Math.floor(Math.random() * items.length)]
}

function describe(response: ApiResponse): string {
  const message = typeof response.body === 'object' && response.body ? response.body.message : response.body
  return `${response.status} ${String(message ?? '').slice(0, 120)}`
}

/**
 * One simulated client. An author writes posts and comments and reads them back at once, carrying its token
 * from response to request, and checks every read that must show its own writes. A reader carries no token and
 * browses what others wrote, so it may not see the newest posts yet (that is replication lag, not an error).
 */
export class VirtualUser {
  readonly #context: WorkloadContext
  readonly #author: boolean
  readonly #tokens: boolean
  readonly #name: string
  #token: string | undefined
  readonly #posts: number[] = []

  constructor(
    context: WorkloadContext,
    options: { readonly author: boolean; readonly name: string; readonly tokens: boolean },
  ) {
    this.#context = context
    this.#author = options.author
    this.#tokens = options.tokens
    this.#name = options.name
  }

  /** Runs steps until `signal` aborts; the step under way finishes first. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await (this.#author ? this.#authorStep() : this.#readerStep())
      await sleep(this.#context.thinkMs * (0.5 + Math.random()), undefined, { signal }).catch(() => {})
    }
  }

  async #authorStep(): Promise<void> {
    const roll = Math.random()
    const own = pick(this.#posts)
    if (own === undefined || roll < 0.25) return this.#createAndReadBack()
    if (roll < 0.45) return this.#commentAndReadBack(own)
    if (roll < 0.7) return this.#readOwnPost(own)
    return this.#listIncludingOwn()
  }

  async #readerStep(): Promise<void> {
    const id = pick(this.#context.postIds)
    if (id === undefined || Math.random() < 0.5) {
      await this.#call('read', 'GET', `/posts?limit=${LIST_LIMIT}`, 200)
      return
    }
    const response = await this.#call('read', 'GET', `/posts/${id}`, 200, 404)
    if (response?.status === 404) this.#context.stats.anonymousMisses++
  }

  async #createAndReadBack(): Promise<void> {
    const title = `${this.#name} post ${this.#posts.length + 1}`
    const created = await this.#call('write', 'POST', '/posts', 201, undefined, {
      json: { title, body: 'hello' },
    })
    if (!created) return
    const id: number = created.body.post.id
    this.#posts.push(id)
    const shared = this.#context.postIds
    shared.push(id)
    if (shared.length > MAX_SHARED_IDS) shared.splice(0, shared.length - MAX_SHARED_IDS)
    const read = await this.#call('read', 'GET', `/posts/${id}`, 200, 404)
    if (read)
      this.#check(read.status === 200, `GET /posts/${id} right after creating it answered ${read.status}`)
  }

  async #commentAndReadBack(postId: number): Promise<void> {
    const created = await this.#call('write', 'POST', `/posts/${postId}/comments`, 201, undefined, {
      json: { body: `${this.#name} was here` },
    })
    if (!created) return
    const commentId: number = created.body.comment.id
    const read = await this.#call('read', 'GET', `/posts/${postId}`, 200, 404)
    if (!read) return
    const seen =
      read.status === 200 && read.body.post.comments.some((c: { id: number }) => c.id === commentId)
    this.#check(seen, `GET /posts/${postId} right after commenting did not show comment ${commentId}`)
  }

  async #readOwnPost(id: number): Promise<void> {
    const read = await this.#call('read', 'GET', `/posts/${id}`, 200, 404)
    if (read)
      this.#check(read.status === 200, `GET /posts/${id} of an own earlier post answered ${read.status}`)
  }

  /** The newest posts must include the user's latest one, unless 20 newer ones push it off the page. */
  async #listIncludingOwn(): Promise<void> {
    const latest = this.#posts.at(-1)!
    const read = await this.#call('read', 'GET', `/posts?limit=${LIST_LIMIT}`, 200)
    if (!read) return
    const ids: number[] = read.body.posts.map((post: { id: number }) => post.id)
    if (ids.length === LIST_LIMIT && latest < Math.min(...ids)) return
    this.#check(ids.includes(latest), `GET /posts did not list own post ${latest}`)
  }

  #check(ok: boolean, problem: string): void {
    this.#context.stats.check(
      ok
        ? undefined
        : `${this.#name}: ${problem} (${this.#token ? `token ${this.#token}` : 'no token sent'})`,
    )
  }

  /**
   * Sends a request with the user's token and keeps the token of the answer. Answers with another status than
   * `expected` or `alsoFine` count as errors and give `undefined`, as does no answer at all.
   */
  async #call(
    kind: 'read' | 'write',
    method: 'GET' | 'POST',
    path: string,
    expected: number,
    alsoFine?: number,
    options: RequestOptions = {},
  ): Promise<ApiResponse | undefined> {
    const { stats, client, interrupt } = this.#context
    stats.requests++
    const started = performance.now()
    try {
      const response = await client.request(method, path, {
        ...options,
        token: this.#token,
        signal: interrupt,
      })
      if (response.token !== undefined && this.#author && this.#tokens) this.#token = response.token
      if (response.status !== expected && response.status !== alsoFine) {
        if (!interrupt?.aborted) stats.error(`${method} ${path}: ${describe(response)}`)
        return undefined
      }
      stats.served(kind, response.port, performance.now() - started)
      return response
    } catch (error) {
      if (!interrupt?.aborted) stats.error(`${method} ${path}: ${(error as Error).message}`)
      return undefined
    }
  }
}
