import type { EventEmitter } from 'node:events'
import type { RequestScope } from './request-scope.js'

/**
 * Makes every event of `emitter` run its listeners inside `scope`. A request's body arrives in events emitted
 * from the socket's own async context, so a body reader that calls `next()` from its `end` listener (older
 * body-parser releases, busboy and multer through `req.pipe()`) would run the rest of the request outside the
 * session. Wrapping `emit` rather than each listener keeps `removeListener()` working.
 */
export function emitInScope(emitter: EventEmitter, scope: RequestScope): void {
  const emit = emitter.emit
  emitter.emit = function (this: EventEmitter, ...args: Parameters<EventEmitter['emit']>) {
    return scope.run(() => emit.apply(this, args))
  }
}
