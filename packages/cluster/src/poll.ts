import { ClusterError } from './cluster-error.js'
import { sleep } from './sleep.js'

/** How {@link pollUntil} polls. */
export interface PollOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
  readonly intervalMs?: number
  /** Says what was awaited, for the timeout error (called only on timeout). */
  readonly describe: () => string | Promise<string>
  /** Node concerned, copied to the error. */
  readonly node?: string
}

/**
 * Calls `check` until it returns true. Throws `PGROUTE_CLUSTER_TIMEOUT` after `timeoutMs` and
 * `PGROUTE_CLUSTER_ABORTED` when `signal` aborts; errors thrown by `check` propagate.
 */
export async function pollUntil(check: () => Promise<boolean>, options: PollOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    throwIfAborted(options.signal, options.node)
    if (await check()) return
    if (Date.now() >= deadline) {
      throw new ClusterError(
        'PGROUTE_CLUSTER_TIMEOUT',
        `Timed out after ${options.timeoutMs} ms: ${await options.describe()}`,
        { node: options.node },
      )
    }
    await sleep(options.intervalMs ?? 20)
  }
}

/** Throws `PGROUTE_CLUSTER_ABORTED` (with the signal's reason as cause) when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, node?: string): void {
  if (signal?.aborted) {
    throw new ClusterError('PGROUTE_CLUSTER_ABORTED', 'The operation was aborted', {
      cause: signal.reason,
      node,
    })
  }
}
