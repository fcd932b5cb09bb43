import { ServerResponse } from 'node:http'

type Flush = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type Method = (this: ServerResponse, ...args: unknown[]) => unknown

/** A held response's state: what releases it, and the calls queued while its headers wait. */
interface Held {
  readonly ready: () => Promise<void>
  queued: Array<{ readonly flush: Flush; readonly args: unknown[] }>
  holding: boolean
}

/** Responses whose headers wait. Kept aside, so no response object changes shape (V8 keeps its fast paths). */
const held = new WeakMap<ServerResponse, Held>()

/** The methods of `ServerResponse.prototype` before {@link standIn} replaced them. */
const originals = new Map<Flush, Method>()

function release(response: ServerResponse, state: Held): void {
  held.delete(response)
  for (const { flush, args } of state.queued) originals.get(flush)!.apply(response, args)
}

/**
 * Replaces `ServerResponse.prototype[flush]`, once per process, by a function that queues the call while the
 * response is held and otherwise passes it on: one `WeakMap` lookup for a response that is not held. Replacing
 * the prototype's method rather than the response's own keeps every response object the same shape, and reaches
 * calls made through wrappers that other middleware (compression) installed before this one.
 */
function standIn(flush: Flush): void {
  if (originals.has(flush)) return
  const original = ServerResponse.prototype[flush] as Method
  originals.set(flush, original)
  ServerResponse.prototype[flush] = function (this: ServerResponse, ...args: unknown[]) {
    const state = held.get(this)
    if (state === undefined || this.headersSent) return original.apply(this, args)
    state.queued.push({ flush, args })
    if (!state.holding) {
      state.holding = true
      const done = () => release(this, state)
      state.ready().then(done, done)
    }
    return flush === 'write' ? true : flush === 'flushHeaders' ? undefined : this
  } as never
}

/**
 * Holds back the first thing a Node response sends until `ready` has settled, then lets `ready`'s result into
 * the headers. A handler sends its answer (`res.json()`, `res.end()`) before control returns to any middleware,
 * and a token may cost a round trip to the primary, so the headers cannot simply be set "after the handler":
 * the calls that would send them (`writeHead`, `write`, `end`, `flushHeaders`) are queued meanwhile and replayed
 * in order. Needs {@link prepareHeldResponses} first.
 */
export function holdHeaders(response: ServerResponse, ready: () => Promise<void>): void {
  held.set(response, { ready, queued: [], holding: false })
}

/**
 * Installs the stand-ins (once per process). Called when a middleware is made, before any request: a wrapper
 * another middleware puts on a response before this one runs calls the stand-in too.
 */
export function prepareHeldResponses(): void {
  for (const flush of ['writeHead', 'write', 'end', 'flushHeaders'] as const) standIn(flush)
}
