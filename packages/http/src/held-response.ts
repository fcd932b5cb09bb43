import type { ServerResponse } from 'node:http'

type Flush = 'writeHead' | 'write' | 'end' | 'flushHeaders'
const FLUSHES: readonly Flush[] = ['writeHead', 'write', 'end', 'flushHeaders']

/**
 * Holds back the first thing a Node response sends until `ready` has settled, then lets `ready`'s result into
 * the headers. A handler sends its answer (`res.json()`, `res.end()`) before control returns to any middleware,
 * and a token may cost a round trip to the primary, so the headers cannot simply be set "after the handler":
 * the calls that would send them (`writeHead`, `write`, `end`, `flushHeaders`) are queued meanwhile and replayed
 * in order. Wrappers stay in place afterwards, passing straight through (a middleware that wrapped them after
 * this one keeps working).
 */
export function holdHeaders(response: ServerResponse, ready: () => Promise<void>): void {
  const originals = new Map<Flush, (...args: unknown[]) => unknown>()
  const queued: Array<{ readonly flush: Flush; readonly args: unknown[] }> = []
  let state: 'open' | 'holding' | 'released' = 'open'
  const release = () => {
    state = 'released'
    for (const { flush, args } of queued.splice(0)) originals.get(flush)!.apply(response, args)
  }
  for (const flush of FLUSHES) {
    const original = response[flush] as (...args: unknown[]) => unknown
    originals.set(flush, original)
    response[flush] = function (this: ServerResponse, ...args: unknown[]) {
      if (state === 'released' || response.headersSent) return original.apply(this, args)
      queued.push({ flush, args })
      if (state === 'open') {
        state = 'holding'
        ready().then(release, release)
      }
      return flush === 'write' ? true : flush === 'flushHeaders' ? undefined : response
    } as never
  }
}
