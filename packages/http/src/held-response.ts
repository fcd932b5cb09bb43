import { ServerResponse } from 'node:http'
import type { OpenedSession } from './session-router.js'

type Flush = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type Method = (this: ServerResponse, ...args: unknown[]) => unknown

/** Puts the token of `session` in `response`'s headers (or reports why it cannot); settles once it is done. */
export type AnswerToken = (response: ServerResponse, session: OpenedSession) => Promise<void>

/** A response of a request's session: its headers may have to wait for the session's token. */
class Held {
  readonly session: OpenedSession
  readonly answer: AnswerToken
  /** The calls queued while the headers wait; `undefined` until the first call that would send them. */
  queued: Array<{ readonly flush: Flush; readonly args: unknown[] }> | undefined = undefined

  constructor(session: OpenedSession, answer: AnswerToken) {
    this.session = session
    this.answer = answer
  }
}

/**
 * Responses whose headers may have to wait, until they go out. Kept aside rather than as a property: Express's
 * requests and responses do not share one shape (each has a map of its own), so a property added to each would
 * make V8 build a new shape per request. An entry is removed as soon as the headers go out: an entry left for
 * the garbage collector to clear costs it far more than the lookup and removal do.
 */
const held = new WeakMap<ServerResponse, Held>()

/** The methods of `ServerResponse.prototype` before {@link standIn} replaced them. */
const originals = new Map<Flush, Method>()

function release(response: ServerResponse, queued: NonNullable<Held['queued']>): void {
  held.delete(response)
  for (const { flush, args } of queued) originals.get(flush)!.apply(response, args)
}

/**
 * Replaces `ServerResponse.prototype[flush]`, once per process, by a function that passes the call on unless the
 * response's headers have to wait: one `WeakMap` lookup for a response that has no session, and a look at a
 * session with nothing to see (then nothing waits, and the headers go out as they would without the middleware).
 * Replacing the prototype's method rather than the response's own keeps every response object the same shape,
 * and reaches calls made through wrappers that other middleware (compression) installed before this one.
 */
function standIn(flush: Flush): void {
  if (originals.has(flush)) return
  const original = ServerResponse.prototype[flush] as Method
  originals.set(flush, original)
  ServerResponse.prototype[flush] = function (this: ServerResponse, ...args: unknown[]) {
    const state = held.get(this)
    if (state === undefined || this.headersSent) return original.apply(this, args)
    let queued = state.queued
    if (queued === undefined) {
      if (state.session.empty) {
        held.delete(this)
        return original.apply(this, args)
      }
      queued = state.queued = []
      const done = () => release(this, queued!)
      state.answer(this, state.session).then(done, done)
    }
    queued.push({ flush, args })
    return flush === 'write' ? true : flush === 'flushHeaders' ? undefined : this
  } as never
}

/**
 * Holds back the first thing a Node response sends until `answer` has put the token of `session` in its headers,
 * when the session has anything to see by then. A handler sends its answer (`res.json()`, `res.end()`) before
 * control returns to any middleware, and a token may cost a round trip to the primary, so the headers cannot
 * simply be set "after the handler": the calls that would send them (`writeHead`, `write`, `end`,
 * `flushHeaders`) are queued meanwhile and replayed in order. Needs {@link prepareHeldResponses} first.
 */
export function holdHeaders(response: ServerResponse, session: OpenedSession, answer: AnswerToken): void {
  held.set(response, new Held(session, answer))
}

/**
 * Installs the stand-ins (once per process). Called when a middleware is made, before any request: a wrapper
 * another middleware puts on a response before this one runs calls the stand-in too.
 */
export function prepareHeldResponses(): void {
  for (const flush of ['writeHead', 'write', 'end', 'flushHeaders'] as const) standIn(flush)
}
