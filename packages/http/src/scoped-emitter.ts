import { IncomingMessage } from 'node:http'
import type { RequestScope } from './request-scope.js'

/** Requests whose events run in a session. Kept aside, so no request object changes shape. */
const scoped = new WeakMap<IncomingMessage, RequestScope>()
let patched = false

/**
 * Makes every event of `request` run its listeners inside `scope`. A request's body arrives in events emitted
 * from the socket's own async context, so a body reader that calls `next()` from its `end` listener (older
 * body-parser releases, busboy and multer through `req.pipe()`) would run the rest of the request outside the
 * session. `IncomingMessage.prototype.emit` is replaced once per process ({@link prepareScopedEmit}), by a
 * function that looks the message up (one `WeakMap` lookup per event of a message that is not scoped); wrapping `emit` rather than each listener
 * keeps `removeListener()` working.
 */
export function emitInScope(request: IncomingMessage, scope: RequestScope): void {
  scoped.set(request, scope)
}

/** Installs the stand-in for `IncomingMessage.prototype.emit` (once per process), before any request. */
export function prepareScopedEmit(): void {
  if (patched) return
  patched = true
  const emit = IncomingMessage.prototype.emit
  IncomingMessage.prototype.emit = function (this: IncomingMessage, ...args: Parameters<typeof emit>) {
    const session = scoped.get(this)
    return session === undefined ? emit.apply(this, args) : session.run(() => emit.apply(this, args))
  }
}
