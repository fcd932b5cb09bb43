import { PgRouteError } from '../errors.js'
import type { RouterNode } from '../replicas/router-node.js'

/** How often {@link nextProbe} looks whether the primary has been probed again. */
const POLL_MS = 20

/**
 * Whether the failure that marked the primary down will not go away by itself: the login was refused (SQLSTATE
 * class 28) or the database does not exist (3D000). A timeout or a refused connection may be a blip.
 */
export function isLastingFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && (code.startsWith('28') || code === '3D000')
}

/**
 * Resolves once `node` has been probed again (its re-probe after a failure comes within the back-off), or after
 * `limitMs`, or when `signal` aborts. Only `router.ready()` waits on it, and only after a failure.
 */
export async function nextProbe(node: RouterNode, limitMs: number, signal?: AbortSignal): Promise<void> {
  const probedAt = node.lastProbeAt
  const deadline = Date.now() + limitMs
  while (node.lastProbeAt === probedAt && Date.now() < deadline && !signal?.aborted) {
    // Not unref'd: a caller awaiting `ready()` is waiting on this; the process must not exit under it.
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/** The error of `router.ready()` once its signal aborted, whenever it aborted: the reason is the `cause`. */
function abortedError(signal: AbortSignal): PgRouteError {
  return new PgRouteError('PGROUTE_ABORTED', 'router.ready() was aborted', { cause: signal.reason })
}

/** Throws {@link abortedError} when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal)
}

/** Resolves with `work`, or rejects with `PGROUTE_ABORTED` once `signal` aborts (for `router.ready({ signal })`). */
export async function untilAborted(work: Promise<void>, signal: AbortSignal): Promise<void> {
  throwIfAborted(signal)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortedError(signal))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}

/** Whether `node` takes writes now: observed out of recovery (roles are observed) and up. */
export function takesWrites(node: RouterNode): boolean {
  return node.role === 'primary' && node.usable
}
