import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { cacheDir } from './cache-dir.js'
import { ClusterError } from './cluster-error.js'
import type { Cluster } from './cluster-node.js'

/** What `pgroute-cluster up` records so that `status` and `down` can find its cluster. */
export interface CliState {
  /** PID of the `up` process that owns the cluster. */
  readonly pid: number
  readonly backend: Cluster['backend']
  readonly startedAt: string
  readonly dataDir: string | undefined
  readonly keep: boolean
  readonly nodes: readonly {
    readonly name: string
    readonly role: string
    readonly url: string
    readonly pid?: number
  }[]
}

/** Default state file: `os.tmpdir()/pgroute-cluster/state.json`. */
export function defaultStatePath(): string {
  const dir = cacheDir()
  if (!dir) {
    throw new ClusterError(
      'PGROUTE_CLUSTER_INVALID_STATE',
      'The state directory under the temporary directory is not safe to use; pass --state-file',
    )
  }
  return path.join(dir, 'state.json')
}

/** The state of `cluster`, owned by this process. */
export function stateOf(cluster: Cluster, keep: boolean): CliState {
  return {
    pid: process.pid,
    backend: cluster.backend,
    startedAt: new Date().toISOString(),
    dataDir: cluster.dataDir,
    keep,
    nodes: cluster.nodes.map((node) => ({
      name: node.name,
      role: node.role,
      url: node.url,
      ...(node.pid === undefined ? {} : { pid: node.pid }),
    })),
  }
}

/** Writes the state file; it holds URLs with the password, so only its owner may read it. */
export function writeState(file: string, state: CliState): void {
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
}

/** Reads the state file, or `undefined` when there is none. */
export function readState(file: string): CliState | undefined {
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, 'utf8')) as CliState
}

/** Removes the state file if it still belongs to `pid`. */
export function removeState(file: string, pid: number): void {
  if (readState(file)?.pid === pid) rmSync(file, { force: true })
}
