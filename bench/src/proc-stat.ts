/**
 * CPU time of other processes, read from Linux's /proc: the server backends a bench attributes to a client (the
 * health probes of a fleet of routers), or a proxy's processes (pgpool-II). Readable for processes of another
 * account when this process is root, as benches run here; `undefined` where /proc cannot tell.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'

/** Whether this system has a /proc to read (Linux). */
export const hasProc = existsSync('/proc/self/stat')

/** Clock ticks per second of `utime`/`stime` in /proc/<pid>/stat (USER_HZ: 100 on every Linux build in use). */
const TICKS_PER_SECOND = 100

/**
 * CPU time `pid` has used so far, in nanoseconds: `/proc/<pid>/schedstat`'s first field (the scheduler's own
 * account, exact to the nanosecond), else `utime + stime` of `/proc/<pid>/stat` (whole ticks of 10 ms, too coarse
 * for one backend that runs 100 µs a second, fine summed over many). `undefined` once the process is gone.
 */
export function cpuNanos(pid: number): number | undefined {
  try {
    const schedstat = readFileSync(`/proc/${pid}/schedstat`, 'utf8')
    const ran = Number(schedstat.split(' ')[0])
    if (Number.isFinite(ran)) return ran
  } catch {
    // No schedstat (a kernel without it) or the process exited: try stat.
  }
  const fields = statFields(pid)
  if (fields === undefined) return undefined
  // Fields after the command: state (index 0), ppid (1), ... utime (11), stime (12).
  return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1e9
}

/** `pid` and every process descending from it (children, their children...), as /proc shows them now. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const ppid = Number(statFields(Number(entry))?.[1])
    if (!Number.isFinite(ppid)) continue
    const siblings = parents.get(ppid)
    if (siblings) siblings.push(Number(entry))
    else parents.set(ppid, [Number(entry)])
  }
  const tree: number[] = []
  for (const queue = [pid]; queue.length > 0; ) {
    const next = queue.pop()!
    tree.push(next)
    queue.push(...(parents.get(next) ?? []))
  }
  return tree
}

/** CPU time of `pid` and its descendants, in nanoseconds (processes that exited meanwhile are not counted). */
export function treeCpuNanos(pid: number): number {
  let total = 0
  for (const member of processTree(pid)) total += cpuNanos(member) ?? 0
  return total
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined // exited while being read
  }
}
