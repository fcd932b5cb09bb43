import type pg from 'pg'
import type { PgRouteError } from '../errors.js'
import { type Lease, leaseIsCurrent } from '../replicas/lease.js'
import { failSubmittable, isSubmittable, type Submittable } from './submittable.js'

type Callback = (error: Error | null, result?: unknown) => void

/**
 * The client a transaction's body is handed: the leased `pg.PoolClient` itself (same object behind a `Proxy`, so
 * `instanceof`, events, `escapeLiteral` and everything else are pg's own), whose `query` first checks that the
 * lease is still current. Once its node was fenced or changed role, nothing more is sent: `stale(lease)` closes
 * the connection (the server rolls the transaction back) and gives the error every form of `query` then fails with
 * (a rejected promise, the callback, or the submittable's own error). One comparison per statement; one proxy and
 * one function per transaction.
 */
export function guardedClient(lease: Lease, stale: (lease: Lease) => PgRouteError): pg.PoolClient {
  const { client } = lease
  const own = client.query as (...args: unknown[]) => unknown
  const query = (...args: unknown[]): unknown => {
    if (leaseIsCurrent(lease)) return own.apply(client, args)
    const error = stale(lease)
    const [first] = args
    if (isSubmittable(first)) {
      failSubmittable(first as Submittable, error)
      return first
    }
    const last = args[args.length - 1]
    if (typeof last === 'function') {
      process.nextTick(last as Callback, error)
      return undefined
    }
    return Promise.reject(error)
  }
  return new Proxy(client, {
    get: (target, key) => (key === 'query' ? query : Reflect.get(target, key)),
  })
}

/**
 * Makes `submittable` (a cursor, or the cursor a stream reads through) check `lease` before each later `read`: a
 * cursor keeps reading on its connection after it was submitted, and must stop once its node was fenced or changed
 * role. `stale(lease)` gives the error it then fails with (and closes the connection).
 */
export function guardReads(
  lease: Lease,
  submittable: Submittable,
  stale: (lease: Lease, submittable: Submittable) => void,
): void {
  const cursor = (submittable.cursor ?? submittable) as { read?: (...args: unknown[]) => unknown }
  const read = cursor.read
  if (typeof read !== 'function') return
  let failed = false
  cursor.read = function (this: unknown, ...args: unknown[]) {
    if (!failed && !leaseIsCurrent(lease)) {
      failed = true
      stale(lease, submittable)
    }
    return read.apply(this, args)
  }
}
