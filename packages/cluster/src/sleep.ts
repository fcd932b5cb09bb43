/**
 * Resolves after `ms` milliseconds. The timer is referenced on purpose: it is only used while the caller awaits
 * the result, and the servers' child processes are unref'd, so nothing else may be keeping Node alive.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

const blocker = new Int32Array(new SharedArrayBuffer(4))

/** Blocks the thread for `ms` milliseconds; only for `process.on('exit')` handlers, where nothing async runs. */
export function sleepSync(ms: number): void {
  Atomics.wait(blocker, 0, 0, ms)
}
