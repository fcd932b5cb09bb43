import { IncomingMessage, ServerResponse } from 'node:http'
import type { OpenedSession } from './session-router.js'

type Flush = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type Method = (this: ServerResponse, ...args: unknown[]) => unknown
type Emit = IncomingMessage['emit']

/** Puts the token of `session` in `response`'s headers (or reports why it cannot); settles once it is done. */
export type AnswerToken = (response: ServerResponse, session: OpenedSession) => Promise<void>

/**
 * A Node request in a session: its events run in it, and its response's headers may have to wait for its token.
 * One record and one map entry per request, for both: what a request that never touches the database pays.
 */
class Scope {
  readonly session: OpenedSession
  readonly answer: AnswerToken
  /** The calls queued while the headers wait; `undefined` until the first call that would send them. */
  queued: Array<{ readonly flush: Flush; readonly args: unknown[] }> | undefined = undefined
  /** The headers went out, or needed no token: the response's calls pass straight on. */
  released = false
  /** The request emitted its last event (`close`): no more of its events to run in the session. */
  closed = false

  constructor(session: OpenedSession, answer: AnswerToken) {
    this.session = session
    this.answer = answer
  }
}

/**
 * Requests in a session, until both their last event and their response's headers are past. Kept aside rather
 * than as a property: Express's requests do not share one shape (each has a map of its own), so a property
 * added to each would make V8 build a new shape per request. An entry is removed as soon as it is done with: an
 * entry left for the garbage collector to clear costs it far more than the lookup and removal do. A response
 * finds its request's entry through `response.req` (set by Node on every `ServerResponse`).
 */
const scopes = new WeakMap<IncomingMessage, Scope>()

/** The methods of `ServerResponse.prototype` before {@link standIn} replaced them. */
const originals = new Map<Flush, Method>()
let emitPatched = false

function released(request: IncomingMessage, scope: Scope): void {
  scope.released = true
  if (scope.closed) scopes.delete(request)
}

function release(response: ServerResponse, scope: Scope): void {
  const queued = scope.queued!
  released(response.req, scope)
  for (const { flush, args } of queued) originals.get(flush)!.apply(response, args)
}

/**
 * Replaces `ServerResponse.prototype[flush]`, once per process, by a function that passes the call on unless the
 * response's headers have to wait: one `WeakMap` lookup for a response that has no session, and a look at a
 * session with nothing to see (then nothing waits, and the headers go out as they would without the middleware).
 * Replacing the prototype's method rather than the response's own keeps every response object the same shape,
 * costs a request nothing until its answer goes out (whether the session wrote is only known then), and reaches
 * calls made through wrappers that other middleware (compression) installed before this one.
 */
function standIn(flush: Flush): void {
  if (originals.has(flush)) return
  const original = ServerResponse.prototype[flush] as Method
  originals.set(flush, original)
  ServerResponse.prototype[flush] = function (this: ServerResponse, ...args: unknown[]) {
    const scope = this.headersSent ? undefined : scopes.get(this.req)
    if (scope === undefined || scope.released) return original.apply(this, args)
    let queued = scope.queued
    if (queued === undefined) {
      if (scope.session.empty) {
        released(this.req, scope)
        return original.apply(this, args)
      }
      queued = scope.queued = []
      const done = () => release(this, scope)
      scope.answer(this, scope.session).then(done, done)
    }
    queued.push({ flush, args })
    return flush === 'write' ? true : flush === 'flushHeaders' ? undefined : this
  } as never
}

function applyEmit(emit: Emit, message: IncomingMessage, args: Parameters<Emit>): boolean {
  return emit.apply(message, args)
}

/**
 * Replaces `IncomingMessage.prototype.emit`, once per process, by a function that runs the listeners of a
 * request in a session inside it. A request's body arrives in events emitted from the socket's own async
 * context, so a body reader that calls `next()` from its `end` listener (older body-parser releases, busboy and
 * multer through `req.pipe()`) would run the rest of the request outside the session. Wrapping `emit` rather
 * than each listener keeps `removeListener()` working; an event nobody listens to is emitted as is. Only the
 * session is entered: the rest of the async context is what the event brings, as without the middleware.
 */
function scopeEmit(): void {
  if (emitPatched) return
  emitPatched = true
  const emit = IncomingMessage.prototype.emit
  IncomingMessage.prototype.emit = function (this: IncomingMessage, ...args: Parameters<Emit>) {
    const scope = scopes.get(this)
    if (scope === undefined) return emit.apply(this, args)
    // A stream's last event: nothing more runs in the session from here.
    if (args[0] === 'close') {
      scope.closed = true
      if (scope.released) scopes.delete(this)
    }
    if (this.listenerCount(args[0]) === 0) return emit.apply(this, args)
    return scope.session.run(applyEmit, emit, this, args)
  }
}

/**
 * Puts a Node request in `session`: every event of `request` runs its listeners inside it, and the first thing
 * its response sends is held back until `answer` has put the session's token in its headers, when the session
 * has anything to see by then. A handler sends its answer (`res.json()`, `res.end()`) before control returns to
 * any middleware, and a token may cost a round trip to the primary, so the headers cannot simply be set "after
 * the handler": the calls that would send them (`writeHead`, `write`, `end`, `flushHeaders`) are queued meanwhile
 * and replayed in order. Needs {@link prepareScopes} first.
 */
export function enterScope(request: IncomingMessage, session: OpenedSession, answer: AnswerToken): void {
  scopes.set(request, new Scope(session, answer))
}

/**
 * Installs the stand-ins (once per process). Called when a middleware is made, before any request: a wrapper
 * another middleware puts on a response before this one runs calls the stand-in too.
 */
export function prepareScopes(): void {
  for (const flush of ['writeHead', 'write', 'end', 'flushHeaders'] as const) standIn(flush)
  scopeEmit()
}
