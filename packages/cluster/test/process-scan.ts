import { readdirSync, readFileSync } from 'node:fs'

/**
 * Processes whose command line mentions `marker` (a cluster's data directory, or its `pgroute-<id>-` cluster name,
 * which PostgreSQL puts in every server process title). Zombies are skipped: they are already gone.
 */
export function processesMatching(marker: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
      if (!zombie && cmdline.includes(marker) && !cmdline.includes('process-scan')) {
        found.push({ pid: Number(entry), cmdline })
      }
    } catch {
      // The process exited while being read.
    }
  }
  return found
}

/** The markers identifying every server process of the cluster whose temporary directory is `dataDir`. */
export function clusterMarkers(dataDir: string): string[] {
  const id = dataDir.slice(dataDir.lastIndexOf('pgroute-cluster-') + 'pgroute-cluster-'.length)
  return [dataDir, `pgroute-${id}-`]
}

/** Every live process belonging to the cluster in `dataDir`. */
export function clusterProcesses(dataDir: string): { pid: number; cmdline: string }[] {
  const seen = new Map<number, { pid: number; cmdline: string }>()
  for (const marker of clusterMarkers(dataDir)) {
    for (const found of processesMatching(marker)) seen.set(found.pid, found)
  }
  return [...seen.values()]
}
