import type pg from 'pg'
import type { Lease } from '../replicas/lease.js'
import type { RouterNode } from '../replicas/router-node.js'
import { type CheckedRead, readReplayBefore } from '../session/checked-read.js'
import { READ_YOUR_WRITES_REASON } from '../session/read-your-writes.js'
import type { NodeConnections } from './node-connections.js'
import type { Connector, FirstFailure } from './primary-path.js'
import type { ReadAttempt } from './read-path.js'
import type { RequestContext } from './request-context.js'
import { type Pin, READ_ONLY_REJECTION, type ReleaseMode, type Routing } from './route-options.js'
import { isSubmittable, type Submittable } from './submittable.js'

/**
 * How many times a write the primary ended with 57P01 before it could commit is sent again (each time on another
 * connection): a fast shutdown ends every pooled connection, and a write may meet several of them.
 */
const MAX_RESENDS = 5

/** The router's parts the slow path uses. */
export type AttemptParts = Pick<
  RequestContext,
  'reads' | 'primaries' | 'connections' | 'rejections' | 'options'
>

/**
 * A request as the slow path sees it (`StatementRequest`, which this file never imports: the request calls in, the
 * slow path calls back through this). Each attempt is one `checkout` and one `run`, the request's own fast-path
 * steps, awaited here.
 */
export interface AttemptedRequest extends ReadAttempt, Connector {
  readonly text: string
  readonly query: string | pg.QueryConfig | Submittable | undefined
  readonly values: unknown[] | undefined
  routing: Routing
  mode: ReleaseMode
  readonly pin: Pin | undefined
  readonly node: RouterNode | undefined
  readonly lease: Lease | undefined
  /** The request goes the primary's way (a write, `router.primary`, or a router without replicas). */
  toPrimary: boolean
  /**
   * The statement was handed to pg in the attempt in flight: it may have run, so it is never re-run. Not so once it
   * failed with its connection before a byte of it was written (see `neverWritten`): no server got it.
   */
  readonly sent: boolean
  /** When a write began while its primary was marked down (0: it was up): the budget counts from it. */
  readonly startedAt: number
  /** Sends the statement on `lease` and waits for it. */
  run(lease: Lease): Promise<unknown>
}

/** The request leaves its caller's held connection (destroyed after `error`), and pins what it gets next. */
export function leavePin(request: AttemptedRequest, connections: NodeConnections, error: unknown): void {
  if (request.mode !== 'borrowed') return
  const pin = request.pin!
  const held = pin.lease!
  pin.lease = undefined
  request.mode = 'keep'
  connections.release(held, error)
}

/**
 * Whether the statement, sent and failed with `error`, certainly did nothing and may be sent again: the server
 * ended it before it could commit (57P01, no "committed locally" warning), on a connection of its own (not one its
 * caller holds), one statement outside explicit transaction control, not a submittable.
 */
export function safeToResend(
  request: AttemptedRequest,
  connections: NodeConnections,
  error: unknown,
): boolean {
  const { lease } = request
  return (
    lease !== undefined &&
    request.mode !== 'borrowed' &&
    !isSubmittable(request.query) &&
    request.routing.transaction === undefined &&
    oneStatement(request.text, request.values) &&
    connections.endedBeforeCommit(lease.client, error)
  )
}

/**
 * The statement on the primary, by the primary path's failover rules; `first`: an attempt that failed (its
 * connection, or the statement, which the primary ended before it could commit: it is sent again).
 */
export async function onPrimary(
  request: AttemptedRequest,
  parts: AttemptParts,
  first: FirstFailure | undefined,
): Promise<void> {
  const { primaries } = parts
  const startedAt = first?.startedAt ?? primaries.downSince()
  let failure = first
  for (let resends = first?.resend === true ? 1 : 0; ; resends++) {
    const lease = await primaries.checkout(request, request.routing.reason, failure)
    // On a primary marked down, the statement runs within the budget of one.
    const budget = primaries.budget(lease, startedAt)
    try {
      await request.run(lease)
      return
    } catch (error) {
      // No server got it (never written before the connection failed, or refused by PgBouncer before any server
      // had it, its server gone): as a connect that failed, it waits for a primary, paced, within
      // failover.waitMs, however often that happens. Ended again before it could commit (a shutdown still
      // closing the primary's pooled connections one by one): sent again at once, a bounded number of times.
      const { connections } = parts
      const unsent =
        !request.sent || (safeToResend(request, connections, error) && connections.refusedByPooler(error))
      if (!unsent && (resends >= MAX_RESENDS || !safeToResend(request, connections, error))) throw error
      if (unsent) resends--
      failure = { startedAt: failure?.startedAt ?? (startedAt || Date.now()), error, resend: !unsent }
    } finally {
      clearTimeout(budget)
    }
  }
}

/** A replica refused the statement (`error`) as a write: it changed nothing, and runs on the primary. */
export function rerunOnPrimary(
  request: AttemptedRequest,
  parts: AttemptParts,
  error: unknown,
): Promise<void> {
  parts.rejections.record(request.node!, request.text, error)
  request.routing = READ_ONLY_REJECTION
  request.toPrimary = true
  return onPrimary(request, parts, undefined)
}

/** One attempt of a read on a node chosen afresh (a replica not tried yet, the session's, or the fallback). */
export async function readElsewhere(request: AttemptedRequest, parts: AttemptParts): Promise<void> {
  const { reads } = parts
  const checked = checkable(request) ? reads.checkedRead(request) : undefined
  if (checked !== undefined && (await checkedRead(request, parts, checked))) return
  const node = await reads.choose(request)
  const lease = await request.checkout(node, request.reason)
  if (await reads.mayRunOn(request, node, lease.client)) {
    await request.run(lease)
    return
  }
  // A connection to another server than the one whose replay position the read was sent for: nothing sent.
  parts.connections.release(lease)
  await request.run(await request.checkout(reads.fallback(), 'read-your-writes'))
}

/** Whether the statement may be sent right behind a replay check (a plain statement, its connection let go after). */
function checkable(request: AttemptedRequest): boolean {
  const { query } = request
  if (request.mode !== 'release' || query === undefined || isSubmittable(query)) return false
  // pg refuses `rows` (a portal kept open) in pipeline mode.
  return typeof query === 'string' || (query as pg.QueryConfig & { rows?: unknown }).rows === undefined
}

/**
 * A session's read sent to a replica right behind a read of its replay position, on the same connection and in
 * one round trip, while the position it must see may still be on its way: true when its answer stands (the
 * replica had replayed that position). Else its answer, or its failure, is dropped: it ran on a replica that may
 * not have the session's writes.
 */
async function checkedRead(
  request: AttemptedRequest,
  parts: AttemptParts,
  checked: CheckedRead,
): Promise<boolean> {
  const lease = await request.checkout(checked.node, READ_YOUR_WRITES_REASON).catch((error: unknown) => {
    request.exclude(checked.node)
    throw error
  })
  const reading = readReplayBefore(lease.client, checked.node)
  let failure: { error: unknown } | undefined
  try {
    await request.run(lease)
  } catch (error) {
    failure = { error }
  }
  if (!(await parts.reads.confirms(request, checked, await reading, lease.client))) return false
  if (failure !== undefined) throw failure.error
  return true
}

/**
 * Whether a statement is one statement: with values it went by the extended protocol, which takes one; a text
 * without a `;` before its end is one (a `;` inside a literal only makes this say no, which is safe).
 */
function oneStatement(text: string, values: unknown[] | undefined): boolean {
  if (values !== undefined && values.length > 0) return true
  const end = text.trimEnd()
  const semicolon = end.indexOf(';')
  return semicolon === -1 || semicolon === end.length - 1
}
