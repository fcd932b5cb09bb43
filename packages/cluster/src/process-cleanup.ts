import type { ClusterStopOptions } from './cluster-options.js'

/** A cluster as the process-wide cleanup sees it. */
export interface CleanupTarget {
  /** Graceful stop, used on SIGINT/SIGTERM/SIGHUP. */
  stop(options?: ClusterStopOptions): Promise<void>
  /** Immediate, synchronous stop, used on process exit (and on a second signal) when nothing async can run. */
  stopSync(): void
}

const live = new Set<CleanupTarget>()
const signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let stopping = false

/**
 * Makes sure `target`'s servers die with this process: on exit they are stopped synchronously; on SIGINT, SIGTERM
 * or SIGHUP every live cluster is stopped and then the signal's default behaviour (termination) is restored and
 * re-raised, unless the application listens for that signal itself. Handlers are installed while at least one
 * cluster is alive. Returns the function that ends the tracking.
 */
export function trackForCleanup(target: CleanupTarget): () => void {
  if (live.size === 0) {
    process.on('exit', onExit)
    for (const signal of signals) process.on(signal, onSignal)
  }
  live.add(target)
  return () => {
    live.delete(target)
    if (live.size === 0 && !stopping) removeHandlers()
  }
}

function removeHandlers() {
  process.off('exit', onExit)
  for (const signal of signals) process.off(signal, onSignal)
}

function onExit() {
  for (const target of live) target.stopSync()
}

async function onSignal(signal: NodeJS.Signals) {
  // Decided when the signal arrives: if the application handles it too, the application decides what happens next.
  const handledElsewhere = process.listenerCount(signal) > 1
  if (stopping) {
    // A second signal while stopping: no more waiting.
    onExit()
    reraise(signal, handledElsewhere)
    return
  }
  stopping = true
  await Promise.allSettled([...live].map((target) => target.stop({ mode: 'fast' })))
  reraise(signal, handledElsewhere)
}

function reraise(signal: NodeJS.Signals, handledElsewhere: boolean) {
  removeHandlers()
  stopping = false
  if (!handledElsewhere) process.kill(process.pid, signal)
}
