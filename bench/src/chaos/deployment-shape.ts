/**
 * What stands between the router and the servers in a chaos run (`pnpm chaos --via <shape>`): nothing, or a
 * PgBouncer per node (Debian's `pgbouncer`, default settings) in transaction or session pooling.
 */
import { pgbouncerUnavailable, startPgBouncer } from '@pgroute/cluster'
import type { ChaosNode } from './chaos-environment.js'

export const shapes = ['direct', 'pgbouncer-transaction', 'pgbouncer-session'] as const

/** A deployment shape of `--via`. */
export type DeploymentShape = (typeof shapes)[number]

/** The proxies of one run: the URL the router gets for each server, and their ports. */
export interface Front {
  /** The URL the router is given for `node`. */
  urlOf(node: ChaosNode): string
  /** The proxies' ports (the leak check counts this process's sockets to them too). */
  readonly ports: readonly number[]
  /** Stops the proxies: their server connections close with them. */
  stop(): Promise<void>
}

/** Why `shape` cannot run here, or undefined. */
export function shapeUnavailable(shape: DeploymentShape): string | undefined {
  return shape === 'direct' ? undefined : pgbouncerUnavailable()
}

/** Starts the proxies of `shape` in front of `nodes` (every server of the run). */
export async function startFront(shape: DeploymentShape, nodes: readonly ChaosNode[]): Promise<Front> {
  if (shape === 'direct') return { urlOf: (node) => node.url, ports: [], stop: async () => {} }
  const poolMode = shape === 'pgbouncer-transaction' ? 'transaction' : 'session'
  const fleet = await startPgBouncer({ nodes }, { poolMode })
  return {
    urlOf: (node) => fleet.node(node.name).url,
    ports: fleet.nodes.map((pooled) => pooled.port),
    stop: () => fleet.stop(),
  }
}
