import type { LearnedRouteCounts } from '../classify/index.js'
import type { NodeStatus } from './router-status.js'

/** What `router.health()` returns: a readiness endpoint's answer. Never contains credentials. */
export interface RouterHealth {
  /**
   * The router can serve: the primary is up, and reads have somewhere to go (a replica is up, or reads fall back
   * to the primary with `fallback: 'primary'`).
   */
  readonly ok: boolean
  readonly primary: NodeStatus
  readonly replicas: readonly NodeStatus[]
  /** One line per node that is not up, naming it, its state and why (scrubbed of secrets). Empty when all are up. */
  readonly problems: readonly string[]
  /**
   * Statement texts sent straight to the primary because a replica refused them (`learnRouting`): how many hold
   * now, and how many were learned, expired (after 5 minutes) and forgotten on DDL so far.
   */
  readonly learnedRoutes: LearnedRouteCounts
}

/** A node's problem in words, or `undefined` when it is up. */
export function problemOf(row: NodeStatus, reason: string | undefined): string | undefined {
  if (row.state === 'up') return undefined
  const why = row.state === 'unknown' ? 'not probed yet' : (reason ?? row.lastError ?? 'no reason recorded')
  return `${row.role} ${row.name} is ${row.state}: ${why}`
}

/**
 * The problem of the node writes would go to (the first row of `router.status()`): as {@link problemOf}, and also
 * when it is up but in recovery, so that no node takes writes (roles are observed: no node is out of recovery).
 */
export function writerProblemOf(row: NodeStatus, reason: string | undefined): string | undefined {
  if (row.role !== 'primary' && (row.state === 'up' || row.state === 'lagging')) {
    return `primary ${row.name} is in recovery: no node takes writes`
  }
  return problemOf(row, reason)
}

/**
 * Builds {@link RouterHealth} from `router.status()` rows (primary first), whose `reason` says why each is so;
 * `servers(name)` says when a node's connections answer from several servers.
 */
export function healthOf(
  rows: readonly NodeStatus[],
  fallback: 'primary' | 'error',
  learnedRoutes: LearnedRouteCounts,
  servers: (name: string) => string | undefined = () => undefined,
): RouterHealth {
  const [primary, ...replicas] = rows as [NodeStatus, ...NodeStatus[]]
  const problems: string[] = []
  for (const row of rows) {
    const problem = (row === primary ? writerProblemOf : problemOf)(row, row.reason ?? undefined)
    if (problem !== undefined) problems.push(problem)
    const several = servers(row.name)
    if (several !== undefined) {
      problems.push(
        `${row.role} ${row.name} ${several}; it gets no read-your-writes reads (see docs/production.md)`,
      )
    }
  }
  const readsServed =
    replicas.length === 0 || fallback === 'primary' || replicas.some((row) => row.state === 'up')
  return {
    ok: primary.state === 'up' && primary.role === 'primary' && readsServed,
    primary,
    replicas,
    problems,
    learnedRoutes,
  }
}
