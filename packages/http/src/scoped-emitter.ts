import { IncomingMessage } from 'node:http'
import type { OpenedSession } from './session-router.js'

/**
 * Requests whose events run in a session, until their last event (`close`). Kept aside rather than as a property,
 * for the reasons `held-response.ts` gives: no request changes shape, and no entry outlives its request.
 */
const scoped = new WeakMap<IncomingMessage, OpenedSession>()

let patched = false

type Emit = IncomingMessage['emit']

function applyEmit(emit: Emit, message: IncomingMessage, args: Parameters<Emit>): boolean {
  return emit.apply(message, args)
}

/**
 * Makes every event of `request` run its listeners inside `session`. A request's body arrives in events emitted
 * from the socket's own async context, so a body reader that calls `next()` from its `end` listener (older
 * body-parser releases, busboy and multer through `req.pipe()`) would run the rest of the request outside the
 * session. `IncomingMessage.prototype.emit` is replaced once per process ({@link prepareScopedEmit}), by a
 * function that looks the message up (one `WeakMap` lookup per event of a message that is not scoped); wrapping
 * `emit` rather than each listener keeps `removeListener()` working. Only the session is entered: the rest of the
 * async context is what the event brings, as without the middleware.
 */
export function emitInScope(request: IncomingMessage, session: OpenedSession): void {
  scoped.set(request, session)
}

/** Installs the stand-in for `IncomingMessage.prototype.emit` (once per process), before any request. */
export function prepareScopedEmit(): void {
  if (patched) return
  patched = true
  const emit = IncomingMessage.prototype.emit
  IncomingMessage.prototype.emit = function (this: IncomingMessage, ...args: Parameters<Emit>) {
    const session = scoped.get(this)
    if (session === undefined) return emit.apply(this, args)
    // A stream's last event: nothing more runs in the session from here.
    if (args[0] === 'close') scoped.delete(this)
    return session.run(applyEmit, emit, this, args)
  }
}
