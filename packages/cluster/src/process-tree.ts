import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { sleep } from './sleep.js'

/**
 * Direct children of `pid`. PostgreSQL backends and auxiliary processes are all children of the postmaster, so one
 * level is the whole server. Reads /proc where there is one, else asks `pgrep -P`.
 */
export function childPids(pid: number): number[] {
  if (!existsSync('/proc/self/stat')) return pgrepChildren(pid)
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Fields after the command name (which may hold spaces and parentheses): state, ppid, ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) === pid) children.push(Number(entry))
    } catch {
      // The process exited while being read.
    }
  }
  return children
}

function pgrepChildren(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number)
  } catch {
    return [] // pgrep exits 1 when nothing matches.
  }
}

/**
 * Sends `signal` to a postmaster and every child it has. The children are listed both before (a killed postmaster's
 * children are re-parented at once) and after the postmaster got the signal (a stopped postmaster forks nothing
 * more), so that none escapes.
 */
export function signalServerTree(pid: number, signal: NodeJS.Signals): number[] {
  const before = childPids(pid)
  send(pid, signal)
  const all = [...new Set([...before, ...childPids(pid)])]
  for (const child of all) send(child, signal)
  return [pid, ...all]
}

/**
 * Resolves once every process of `pids` is stopped (or gone): signals are delivered asynchronously, and a caller of
 * `hang()` expects a frozen server when it resolves. Without /proc it cannot tell and resolves at once.
 */
export async function waitUntilStopped(pids: readonly number[], timeoutMs = 2000): Promise<void> {
  if (!existsSync('/proc/self/stat')) return
  const deadline = Date.now() + timeoutMs
  while (pids.some((pid) => processState(pid) !== 'T') && Date.now() < deadline) {
    await sleep(5)
  }
}

/** One-letter state of a process from /proc (`T` stopped, `R` running, ...), `T` when it is gone. */
function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state === 'Z' || state === 'X' ? 'T' : state
  } catch {
    return 'T'
  }
}

function send(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}
