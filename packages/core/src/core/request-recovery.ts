import { setTimeout as sleep } from 'node:timers/promises'
import type { ResolvedOptions } from '../config/resolved-options.js'
import { isReadOnlyRejection, isRetryableRead } from '../pg-errors.js'
import type { Lease } from '../replicas/lease.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { ReadPath } from './read-path.js'

/**
 * What the failure rule makes of a failure: `fail` (the failure is the caller's), `retry` (a read that failed in a
 * way worth another node, within `retry.retries`), `rerun-on-primary` (a replica refused the statement as a write:
 * it changed nothing), `resume-on-primary` (connecting to the primary failed, nothing was sent: the primary path's
 * failover rules take over), `resend-on-primary` (the primary ended the statement before it could commit:
 * sent again, by the same rules).
 */
export type Next = 'fail' | 'retry' | 'rerun-on-primary' | 'resume-on-primary' | 'resend-on-primary'

/** What the failure rule reads of a failed request, and the attempts it asks of it (`StatementRequest`). */
export interface FailedRequest {
  readonly text: string
  /** The statement is a submittable (a cursor, a stream). */
  readonly submittable: boolean
  /** The statement was handed to pg in the attempt that failed, and a byte of it written: it may have run. */
  readonly sent: boolean
  /** The request goes the primary's way (a write, `router.primary`, or a router without replicas). */
  readonly toPrimary: boolean
  /** The statement runs on its caller's held connection (`borrowed`). */
  readonly borrowed: boolean
  /** The caller lets its held connection go (see `Pin.movable`). */
  readonly movable: boolean
  readonly node: RouterNode | undefined
  readonly lease: Lease | undefined
  /** `node` (a replica) is not to be tried again. */
  exclude(node: RouterNode): void
  /** The request leaves its caller's held connection (destroyed after `error`), and pins what it gets next. */
  leavePin(error: unknown): void
  /**
   * Whether the statement, sent and failed with `error`, certainly did nothing and may be sent again: the server
   * ended it before it could commit (57P01, no "committed locally" warning), on a connection of its own (not one
   * its caller holds), one statement outside explicit transaction control, not a submittable.
   */
  safeToResend(error: unknown): boolean
  /** Runs on the primary by its failover rules, after its first connection attempt failed with `error`. */
  resumeOnPrimary(error: unknown): Promise<void>
  /** Sent again to the primary by its failover rules, the server having ended it before it could commit. */
  resendOnPrimary(error: unknown): Promise<void>
  /** Runs on the primary, a replica having refused it (`error`) as a write. */
  rerunOnPrimary(error: unknown): Promise<void>
  /** One more attempt of a read, on a node chosen afresh. */
  readElsewhere(): Promise<void>
}

/**
 * The one failure rule of a statement. A submittable that was sent never runs again (it has state), nor does
 * anything on a held connection its caller may not give up, nor a statement on the primary that may have run (one
 * the primary ended with 57P01 before it could commit certainly did not: it is sent again). A
 * replica that refused a statement as a write changed nothing: it runs on the primary. A read, or a connection its
 * caller lets go, that failed in a way another node may not (a connection error, a hot-standby conflict, a busy
 * node, the router's own cancellation) goes elsewhere. A write whose connection to the primary failed sent
 * nothing: the primary path's failover rules take over.
 */
export function decide(request: FailedRequest, error: unknown): Next {
  const { node, sent } = request
  if (sent && request.submittable) return 'fail'
  if (request.borrowed && !(request.movable && request.lease?.role === 'replica')) return 'fail'
  if (sent && node?.role === 'replica' && isReadOnlyRejection(error)) return 'rerun-on-primary'
  if (request.toPrimary) {
    if (!sent) return node === undefined ? 'fail' : 'resume-on-primary'
    return request.safeToResend(error) ? 'resend-on-primary' : 'fail'
  }
  return isRetryableRead(error) ? 'retry' : 'fail'
}

/**
 * Goes on after `error` as {@link decide} says until the request succeeds or fails for good: the primary's way is
 * final; a read is retried on other nodes up to `retry.retries` times, pausing `retry.minTimeoutMs`, doubling up to
 * `retry.maxTimeoutMs` (timers that never hold the process open).
 */
export async function recover(
  request: FailedRequest,
  error: unknown,
  retry: ResolvedOptions['retry'],
  reads: ReadPath,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const next = decide(request, error)
    if (next === 'fail') throw error
    // A refused statement left the connection fine; anything else may have broken it.
    request.leavePin(next === 'rerun-on-primary' ? undefined : error)
    if (next === 'resume-on-primary') return request.resumeOnPrimary(error)
    if (next === 'resend-on-primary') return request.resendOnPrimary(error)
    if (next === 'rerun-on-primary') return request.rerunOnPrimary(error)
    const { node } = request
    if (node !== undefined) {
      reads.rerouted(node, request.text, error)
      request.exclude(node)
    }
    if (attempt > retry.retries) throw error
    const pauseMs = Math.min(retry.minTimeoutMs * 2 ** (attempt - 1), retry.maxTimeoutMs)
    if (pauseMs > 0) await sleep(pauseMs, undefined, { ref: false })
    try {
      return await request.readElsewhere()
    } catch (next) {
      error = next
    }
  }
}
