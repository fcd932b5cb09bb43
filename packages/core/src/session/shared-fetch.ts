/**
 * A value fetched on demand by callers who each need it fresh: fetched after they asked. Callers share one
 * fetch: those arriving while one runs share the next, so however many ask, at most one runs and one waits.
 */
export class SharedFetch<T> {
  readonly #fetch: () => Promise<T>
  #running: Promise<T> | undefined
  #next: Promise<T> | undefined

  constructor(fetch: () => Promise<T>) {
    this.#fetch = fetch
  }

  /** The value as fetched after this call. */
  get(): Promise<T> {
    if (this.#next) return this.#next
    const running = this.#running
    if (!running) return this.#start()
    const next: Promise<T> = running.then(
      (): Promise<T> => this.#startNext(next),
      (): Promise<T> => this.#startNext(next),
    )
    this.#next = next
    return next
  }

  #startNext(next: Promise<T>): Promise<T> {
    if (this.#next === next) this.#next = undefined
    return this.#start()
  }

  #start(): Promise<T> {
    const running = this.#fetch().finally(() => {
      if (this.#running === running) this.#running = undefined
    })
    this.#running = running
    return running
  }
}
