import { setTimeout as sleep } from 'node:timers/promises'
import { isReadOnlyRejection, isRetryableRead } from '../pg-errors.js'
import { type Lease, roleChangedError } from '../replicas/lease.js'
import {
  type AttemptedRequest,
  type AttemptParts,
  leavePin,
  onPrimary,
  readElsewhere,
  rerunOnPrimary,
  safeToResend,
} from './request-attempts.js'
import { isSubmittable } from './submittable.js'

/**
 * What the failure rule makes of a failure: `fail` (the failure is the caller's), `retry` (a read that failed in a
 * way worth another node, within `retry.retries`), `rerun-on-primary` (a replica refused the statement as a write:
 * it changed nothing), `resume-on-primary` (connecting to the primary failed, nothing was sent: the primary path's
 * failover rules take over), `resend-on-primary` (the primary ended the statement before it could commit:
 * sent again, by the same rules).
 */
export type Next = 'fail' | 'retry' | 'rerun-on-primary' | 'resume-on-primary' | 'resend-on-primary'

/**
 * The one failure rule of a statement. A submittable that was sent never runs again (it has state), nor does
 * anything on a held connection its caller may not give up, nor a statement on the primary that may have run (one
 * the primary ended with 57P01 before it could commit certainly did not: it is sent again). A
 * replica that refused a statement as a write changed nothing: it runs on the primary. A read, or a connection its
 * caller lets go, that failed in a way another node may not (a connection error, a hot-standby conflict, a busy
 * node, the router's own cancellation) goes elsewhere. A write whose connection to the primary failed sent
 * nothing: the primary path's failover rules take over.
 */
export function decide(request: AttemptedRequest, error: unknown, parts: AttemptParts): Next {
  const { node, sent } = request
  if (sent && isSubmittable(request.query)) return 'fail'
  const movable = request.pin?.movable === true && request.lease?.role === 'replica'
  if (request.mode === 'borrowed' && !movable) return 'fail'
  if (sent && node?.role === 'replica' && isReadOnlyRejection(error)) return 'rerun-on-primary'
  if (request.toPrimary) {
    if (!sent) return node === undefined ? 'fail' : 'resume-on-primary'
    return safeToResend(request, parts.connections, error) ? 'resend-on-primary' : 'fail'
  }
  return isRetryableRead(error) ? 'retry' : 'fail'
}

/**
 * Goes on after `error` as {@link decide} says until the request succeeds or fails for good: the primary's way is
 * final; a read is retried on other nodes up to `retry.retries` times, pausing `retry.minTimeoutMs`, doubling up to
 * `retry.maxTimeoutMs` (timers that never hold the process open).
 */
export async function recover(request: AttemptedRequest, error: unknown, parts: AttemptParts): Promise<void> {
  const { retry } = parts.options
  for (let attempt = 1; ; attempt++) {
    const next = decide(request, error, parts)
    if (next === 'fail') throw error
    // A refused statement left the connection fine; anything else may have broken it.
    leavePin(request, parts.connections, next === 'rerun-on-primary' ? undefined : error)
    if (next === 'rerun-on-primary') return rerunOnPrimary(request, parts, error)
    // Its first connection failed, nothing sent: the primary path's failover rules take over.
    if (next === 'resume-on-primary')
      return onPrimary(request, parts, { startedAt: request.startedAt || Date.now(), error })
    // The primary ended it before it could commit: sent again, by the same rules.
    // One PgBouncer refused before any server had it waits like a failed connect (paced), not at once.
    if (next === 'resend-on-primary') {
      const resend = !parts.connections.refusedByPooler(error)
      return onPrimary(request, parts, { startedAt: request.startedAt || Date.now(), error, resend })
    }
    const { node } = request
    if (node !== undefined) {
      parts.reads.rerouted(node, request.text, error)
      request.exclude(node)
    }
    if (attempt > retry.retries) throw error
    const pauseMs = Math.min(retry.minTimeoutMs * 2 ** (attempt - 1), retry.maxTimeoutMs)
    if (pauseMs > 0) await sleep(pauseMs, undefined, { ref: false })
    try {
      return await readElsewhere(request, parts)
    } catch (next) {
      error = next
    }
  }
}

/** A read that starts on the slow path (in a session, or moved off a pin), its failures decided as any read's. */
export async function readAnew(request: AttemptedRequest, parts: AttemptParts): Promise<void> {
  try {
    await readElsewhere(request, parts)
  } catch (error) {
    await recover(request, error, parts)
  }
}

/**
 * A held connection that is no longer what it was when it was checked out (`leaseIsCurrent` said no): a
 * replica-pinned client outside a transaction (it holds nothing there) moves, as a read anew or on the primary;
 * anything else fails with `PGROUTE_ROLE_CHANGED`, nothing sent, and the pin is revoked: its connection closed (the
 * server rolls back what it held open), every later statement failing the same way until the holder lets it go.
 */
export function offStaleLease(request: AttemptedRequest, parts: AttemptParts, held: Lease): Promise<void> {
  if (request.pin?.movable !== true || isSubmittable(request.query)) {
    parts.connections.revoke(request.pin!, held)
    return Promise.reject(roleChangedError(held))
  }
  leavePin(request, parts.connections, undefined)
  return request.toPrimary ? onPrimary(request, parts, undefined) : readAnew(request, parts)
}
