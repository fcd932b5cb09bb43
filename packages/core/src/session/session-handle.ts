import type { AsyncLocalStorage } from 'node:async_hooks'
import { ConfigError } from '../errors.js'
import { CausalSession, formatToken, parseToken } from './causal-session.js'
import type { ReadYourWrites } from './read-your-writes.js'

/** Options of `router.session()` and `router.openSession()`. */
export interface SessionOptions {
  /** A token from `router.token()` of an earlier scope (a cookie, header or job payload) to continue from. */
  readonly token?: string
  /**
   * Every read of the scope goes to the primary (never a fenced one), whatever the replicas have replayed: the
   * `always` consistency of a job that must see the newest data. Inside a scope already open, it makes that scope
   * read on the primary from then on (a scope's reads only ever get stricter).
   */
  readonly readOnPrimary?: boolean
}

/**
 * The session `options` open: the scope already open where this is called, joined (it continues from the token
 * too, and reads on the primary from then on if asked), or a new one. Throws `PGROUTE_INVALID_TOKEN` for a
 * malformed token and a `ConfigError` for a bad `readOnPrimary`, before anything changes.
 */
export function openSession(
  sessions: AsyncLocalStorage<CausalSession>,
  options: SessionOptions,
): CausalSession {
  const { readOnPrimary = false } = options
  if (typeof readOnPrimary !== 'boolean') throw new ConfigError('readOnPrimary', 'expected a boolean')
  const floor = options.token === undefined ? undefined : parseToken(options.token)
  const current = sessions.getStore()
  if (current === undefined) {
    const session = new CausalSession(floor)
    session.readOnPrimary = readOnPrimary
    return session
  }
  if (floor !== undefined) current.observe(floor)
  if (readOnPrimary) current.readOnPrimary = true
  return current
}

/** The token of `session`: the position its reads must see, formatted; `undefined` when it has none. */
export async function tokenOf(causal: ReadYourWrites, session: CausalSession): Promise<string | undefined> {
  const position = await causal.required(session)
  return position === undefined ? undefined : formatToken(position)
}

/**
 * A read-your-writes session opened ahead of the code that runs in it (`router.openSession()`), for work that
 * runs in stages called from elsewhere rather than inside one function: an HTTP framework's middleware, hooks
 * and handler, each entered with {@link run}. It is the same session as `router.session(fn)` runs `fn` in: the
 * router keeps nothing of it, so it goes when the last reference to it does.
 */
export class SessionHandle {
  readonly #sessions: AsyncLocalStorage<CausalSession>
  readonly #session: CausalSession
  readonly #causal: ReadYourWrites

  /** @internal Made by `router.openSession()`. */
  constructor(sessions: AsyncLocalStorage<CausalSession>, session: CausalSession, causal: ReadYourWrites) {
    this.#sessions = sessions
    this.#session = session
    this.#causal = causal
  }

  /**
   * Calls `fn(...args)` inside the session, synchronously, and returns what it returns: its statements, and
   * everything it starts (promises, timers, events it subscribes to), belong to the session. A
   * `router.session()` inside it joins it.
   */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
    return this.#sessions.run(this.#session, fn, ...args)
  }

  /** The session's causal token, as `router.token()` inside it gives it. */
  token(): Promise<string | undefined> {
    return tokenOf(this.#causal, this.#session)
  }

  /**
   * Whether the session has nothing to see yet: it continues from no token and no write of it has completed.
   * Its {@link token} is then `undefined`, and a caller that only wants to pass the token on need not ask.
   */
  get empty(): boolean {
    return this.#session.empty
  }
}
