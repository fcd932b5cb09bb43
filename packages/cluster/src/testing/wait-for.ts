import { ClusterError } from '../cluster-error.js'
import { sleep } from '../sleep.js'

/**
 * Polls `check` every 20 ms until it returns true. Rejects with a `PGROUTE_CLUSTER_TIMEOUT` error naming
 * `message` after `timeoutMs`; an error thrown by `check` rejects at once.
 *
 * @example
 * ```ts
 * await waitFor(() => router.status().every((node) => node.state === 'up'), 10_000, 'every node up')
 * ```
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new ClusterError('PGROUTE_CLUSTER_TIMEOUT', `Timed out after ${timeoutMs} ms: ${message}`)
    }
    await sleep(20)
  }
}
