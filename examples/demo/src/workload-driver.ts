import { ApiClient } from './api-client.js'
import { VirtualUser } from './virtual-user.js'
import { WorkloadStats } from './workload-stats.js'

/** Options of {@link WorkloadDriver}. */
export interface WorkloadDriverOptions {
  /** The example app, e.g. `http://127.0.0.1:40123`. */
  readonly baseUrl: string
  /** Concurrent virtual users; about two thirds write and read back, the rest only read. */
  readonly users: number
  /** Authors send their token back (default true); without it their reads may miss their own writes. */
  readonly tokens?: boolean
  /** Ctrl-C: cancels the requests under way; failures from then on are not counted (see {@link stop}). */
  readonly interrupt?: AbortSignal | undefined
  /** Mean pause between a user's steps. Default 20 ms: enough traffic to see, little enough for 2 cores. */
  readonly thinkMs?: number
}

/**
 * Drives a mixed workload through the example app's HTTP API: authors create posts and comments and read them
 * back with their token; readers browse without one. {@link stats} fills in as it runs.
 */
export class WorkloadDriver {
  readonly stats = new WorkloadStats()
  readonly #users: VirtualUser[]
  readonly #stop = new AbortController()
  #running: Promise<void> | undefined

  constructor(options: WorkloadDriverOptions) {
    const context = {
      client: new ApiClient(options.baseUrl),
      stats: this.stats,
      postIds: [],
      thinkMs: options.thinkMs ?? 20,
      interrupt: options.interrupt,
    }
    const authors = Math.max(1, Math.round((options.users * 2) / 3))
    this.#users = Array.from(
      { length: options.users },
      (_, i) =>
        new VirtualUser(context, {
          author: i < authors,
          tokens: options.tokens ?? true,
          name: i < authors ? `author-${i + 1}` : `reader-${i + 1 - authors}`,
        }),
    )
  }

  /** Starts every virtual user. */
  start(): void {
    this.#running ??= Promise.all(this.#users.map((user) => user.run(this.#stop.signal))).then(() => {})
  }

  /**
   * Stops the users and waits for the requests under way to finish (their checks count). After an interruption
   * they are cancelled instead.
   */
  async stop(): Promise<void> {
    this.#stop.abort()
    await this.#running
  }
}
