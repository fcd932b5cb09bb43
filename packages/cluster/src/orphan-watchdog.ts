import { spawn } from 'node:child_process'

// Runs detached from this process: once the owner is gone (even killed with SIGKILL, when no handler of ours can
// run), it continues servers frozen by `hang()` (a stopped process keeps every other signal pending), sends the
// cluster's postmasters an immediate shutdown and removes the data. The pattern is built inside the script ("$2" is
// expanded at run time), so it never matches the watchdog's own command line.
const script = `
while kill -0 "$1" 2>/dev/null; do sleep 1; done
for pid in $(pgrep -f "postgres -D $2/"); do kill -CONT "$pid"; pkill -CONT -P "$pid"; done 2>/dev/null
pkill -QUIT -f "postgres -D $2/" 2>/dev/null
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  pgrep -f "postgres -D $2/" >/dev/null 2>&1 || break
  sleep 1
done
[ "$3" = keep ] || rm -rf "$2"
`

/** A running watchdog; {@link OrphanWatchdog.dismiss} ends it once the cluster was stopped normally. */
export interface OrphanWatchdog {
  /** Ends the watchdog and resolves when it has exited. */
  dismiss(): Promise<void>
  /** Ends the watchdog without waiting, for `process.on('exit')`. */
  dismissSync(): void
}

/**
 * Starts a small shell process that outlives this one and stops the servers whose data directories are under `root`
 * if this process dies without stopping them. Not available on Windows (returns a no-op).
 */
export function startOrphanWatchdog(root: string, keep: boolean): OrphanWatchdog {
  if (process.platform === 'win32') return { dismiss: async () => {}, dismissSync: () => {} }
  const child = spawn(
    '/bin/sh',
    ['-c', script, 'pgroute-cluster-watchdog', String(process.pid), root, keep ? 'keep' : ''],
    {
      detached: true,
      stdio: 'ignore',
    },
  )
  child.on('error', () => {}) // Without a shell there is simply no watchdog.
  child.unref()
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  // SIGKILL: a shell acts on SIGTERM only after its current `sleep 1`, and a dismissed watchdog has nothing to do.
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  return {
    dismiss: async () => {
      // Referenced while we wait, or a script with nothing else to do would exit before `stop()` resolves.
      child.ref()
      kill()
      await exited
    },
    dismissSync: kill,
  }
}
