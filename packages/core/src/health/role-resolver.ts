import type { ProbeReading } from './node-probe.js'

/** One node's latest probe: `undefined` when it failed (the node is down and plays no part). */
export interface Observation<N> {
  readonly node: N
  readonly reading: ProbeReading | undefined
}

/** What the cluster is, as far as the probes have shown: it only ever moves forward. */
export interface ClusterIdentity {
  /** The system identifier every member shares; learned from the first probes. */
  readonly systemId: string | undefined
  /** The newest timeline any member was seen on (0 before any). */
  readonly timeline: number
}

/** The role a probe earns a node. */
export type Verdict =
  | { readonly role: 'primary' | 'replica' }
  | { readonly role: 'fenced'; readonly reason: string }

/** The roles of one resolution, and the cluster identity after it. */
export interface Resolution<N> extends ClusterIdentity {
  /** The node to write to, or `undefined` when no reachable node may be primary now. */
  readonly primary: N | undefined
  /** A verdict for every node that answered its probe. */
  readonly verdicts: ReadonlyMap<N, Verdict>
}

const PRIMARY: Verdict = Object.freeze({ role: 'primary' })
const REPLICA: Verdict = Object.freeze({ role: 'replica' })

function fenced(reason: string): Verdict {
  return { role: 'fenced', reason }
}

/**
 * Decides every node's role from what it says of itself. The primary is the node not in recovery on the newest
 * timeline of the cluster's system identifier (the current primary when several qualify); replicas are nodes in
 * recovery on that timeline. Everything else is fenced: a node with another system identifier, a node claiming
 * primary on an older timeline (an old primary restarted on its own) or beside the primary, and a node that
 * streams an older timeline (it follows such an old primary). A node whose timeline cannot be read is taken at
 * its word: it is not fenced on a guess.
 */
export function resolveRoles<N extends { readonly name: string }>(
  observations: readonly Observation<N>[],
  current: N | undefined,
  identity: ClusterIdentity,
): Resolution<N> {
  const answered = observations.filter(
    (o): o is { node: N; reading: ProbeReading } => o.reading !== undefined,
  )
  const systemId =
    identity.systemId ??
    (
      answered.find((o) => o.node === current && o.reading.systemId !== undefined) ??
      answered.find((o) => !o.reading.inRecovery && o.reading.systemId !== undefined) ??
      answered.find((o) => o.reading.systemId !== undefined)
    )?.reading.systemId
  const verdicts = new Map<N, Verdict>()
  const members: typeof answered = []
  for (const o of answered) {
    const other = o.reading.systemId
    if (systemId !== undefined && other !== undefined && other !== systemId) {
      verdicts.set(o.node, fenced(`system identifier ${other} is not the cluster's (${systemId})`))
    } else {
      members.push(o)
    }
  }
  let timeline = identity.timeline
  for (const { reading } of members) {
    if (reading.timeline !== undefined && reading.timeline > timeline) timeline = reading.timeline
  }
  const claimants = members.filter((o) => !o.reading.inRecovery)
  const onNewest = claimants.filter((o) => (o.reading.timeline ?? timeline) === timeline)
  const primary = (onNewest.find((o) => o.node === current) ?? onNewest[0])?.node
  for (const { node, reading } of claimants) {
    const claimed = reading.timeline ?? timeline
    if (node === primary) verdicts.set(node, PRIMARY)
    else if (claimed < timeline) {
      verdicts.set(
        node,
        fenced(`claims primary on timeline ${claimed}, older than the cluster's timeline ${timeline}`),
      )
    } else {
      verdicts.set(node, fenced(`claims primary on timeline ${claimed} beside ${primary!.name}`))
    }
  }
  for (const { node, reading } of members) {
    if (!reading.inRecovery) continue
    const followed = reading.timeline
    verdicts.set(
      node,
      followed !== undefined && followed < timeline
        ? fenced(
            `follows timeline ${followed}, not the cluster's timeline ${timeline} (an old or fenced primary)`,
          )
        : REPLICA,
    )
  }
  return { primary, verdicts, systemId, timeline }
}
