import { formatLsn } from './lsn.js'
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

/**
 * The role a probe earns a node. A replica with `waiting` holds a prefix of the cluster's timeline on an older one
 * (it stopped at or before the fork point, and has not followed the new timeline yet): it is behind, not fenced,
 * and takes no reads until it follows (`waiting` says why).
 */
export type Verdict =
  | { readonly role: 'primary' }
  | { readonly role: 'replica'; readonly waiting?: string }
  | { readonly role: 'fenced'; readonly reason: string }

/**
 * Where `timeline` forked off the history of the cluster's `current` timeline (its switch point, from `current`'s
 * history file), `'pending'` until that file has been read, `undefined` when it cannot be known.
 */
export type ForkPoints = (timeline: number, current: number) => bigint | 'pending' | undefined

/**
 * What the router knows of the node writes go to now, for the one rule a probe cannot decide alone: may another
 * writable node on the same timeline replace it? A promotion always starts a new timeline; a second writable node
 * on the primary's own timeline is a replica started without `standby.signal` (or a copy of the primary), and
 * taking it for the primary would send writes to a node that does not have the primary's history.
 */
export interface Incumbent {
  /** The timeline a probe last saw it lead; `undefined` while no probe has seen it as primary (a first guess). */
  readonly timeline: number | undefined
  /** Its WAL position at that probe. */
  readonly lsn: bigint | undefined
  /** Whether it has been unreachable long enough to be taken for gone ({@link SAME_TIMELINE_TAKEOVER_MS}). */
  readonly gone: boolean
}

/**
 * How long the primary must have been unreachable before a writable node on its own timeline may take over, and
 * then only if that node's WAL position is at least the primary's last one seen (it holds everything the router
 * saw the primary write).
 */
export const SAME_TIMELINE_TAKEOVER_MS = 30_000

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
 *
 * A writable node on the timeline the current primary leads (`incumbent`) never replaces it: it takes over only
 * when the current primary says it is no longer primary (it answers in recovery), was never seen as primary (the
 * configuration's guess), or is gone ({@link Incumbent.gone}, and the node holds its last position). Until then
 * there is no primary to write to while the current one is unreachable, and the rival is fenced, its reason
 * naming the primary. Without `incumbent`, the current primary counts as a guess.
 */
export function resolveRoles<N extends { readonly name: string }>(
  observations: readonly Observation<N>[],
  current: N | undefined,
  identity: ClusterIdentity,
  incumbent?: Incumbent,
  forks?: ForkPoints,
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
  const held = onNewest.find((o) => o.node === current)
  const rival = held === undefined ? onNewest[0] : undefined
  const blocked =
    rival !== undefined &&
    current !== undefined &&
    !mayTakeOver(rival, current, answered, timeline, incumbent)
  const primary = blocked ? undefined : (held ?? rival)?.node
  for (const { node, reading } of claimants) {
    const claimed = reading.timeline ?? timeline
    if (node === primary) verdicts.set(node, PRIMARY)
    else if (claimed < timeline) {
      verdicts.set(
        node,
        fenced(`claims primary on timeline ${claimed}, older than the cluster's timeline ${timeline}`),
      )
    } else if (primary === undefined) {
      verdicts.set(
        node,
        fenced(
          `claims primary on timeline ${claimed} beside ${current!.name} (the primary, unreachable now): a second writable node on its timeline, not a promotion`,
        ),
      )
    } else {
      verdicts.set(node, fenced(`claims primary on timeline ${claimed} beside ${primary.name}`))
    }
  }
  for (const { node, reading } of members) {
    if (!reading.inRecovery) continue
    const followed = reading.timeline
    verdicts.set(
      node,
      followed !== undefined && followed < timeline
        ? olderTimeline(reading, followed, timeline, forks)
        : REPLICA,
    )
  }
  return { primary, verdicts, systemId, timeline }
}

/**
 * The verdict of a standby on `followed`, older than the cluster's `timeline`. What it holds up to its fork point
 * (where `followed` ended, by the current timeline's history) is also the new timeline's: a standby that went no
 * further (replayed and received) is behind, waiting to follow the new timeline, as a replica (and the cascade
 * below it) that stopped at the fork point of a clean failover. One that went past it holds WAL that is not the
 * cluster's (it follows an old or fenced primary): fenced. While the fork point is being read it waits; when it
 * cannot be known (the history file is not readable), it is fenced.
 */
function olderTimeline(
  reading: ProbeReading,
  followed: number,
  timeline: number,
  forks: ForkPoints | undefined,
): Verdict {
  const fork = forks?.(followed, timeline)
  const furthest =
    reading.lsn !== undefined && reading.receiveLsn !== undefined && reading.receiveLsn > reading.lsn
      ? reading.receiveLsn
      : reading.lsn
  if (fork === 'pending') {
    return {
      role: 'replica',
      waiting: `follows timeline ${followed}: reading where it forked off timeline ${timeline}`,
    }
  }
  if (fork !== undefined && furthest !== undefined && furthest <= fork) {
    return {
      role: 'replica',
      waiting: `holds timeline ${followed} up to ${formatLsn(furthest)}, a prefix of timeline ${timeline} (forked at ${formatLsn(fork)}): behind until it follows timeline ${timeline}`,
    }
  }
  const past = fork === undefined ? '' : `, past where it forked off at ${formatLsn(fork)}`
  return fenced(
    `follows timeline ${followed}${past}, not the cluster's timeline ${timeline} (an old or fenced primary)`,
  )
}

/**
 * Whether `rival`, writable on the newest timeline while the current primary is not among the writable nodes on
 * it, may take over: it leads a timeline newer than the one the current primary led (a promotion), or the current
 * primary answered in recovery, was never seen as primary, or is gone and `rival` holds its last position.
 */
function mayTakeOver<N>(
  rival: { readonly node: N; readonly reading: ProbeReading },
  current: N,
  answered: readonly { readonly node: N; readonly reading: ProbeReading }[],
  timeline: number,
  incumbent: Incumbent | undefined,
): boolean {
  if (incumbent?.timeline === undefined) return true
  if ((rival.reading.timeline ?? timeline) > incumbent.timeline) return true
  if (answered.some((o) => o.node === current && o.reading.inRecovery)) return true
  if (!incumbent.gone) return false
  const { lsn } = rival.reading
  return incumbent.lsn === undefined || (lsn !== undefined && lsn >= incumbent.lsn)
}

/**
 * The system identifier the cluster's addresses now lead to, when the cluster was replaced behind them (a
 * blue/green switch behind stable endpoints): every node answered, all with one system identifier, and it is not
 * the cluster's. `undefined` otherwise (a node that does not answer might still be of the old cluster).
 */
export function replacementIdentity<N>(
  observations: readonly Observation<N>[],
  identity: ClusterIdentity,
): string | undefined {
  if (identity.systemId === undefined || observations.length === 0) return undefined
  let other: string | undefined
  for (const { reading } of observations) {
    const systemId = reading?.systemId
    if (systemId === undefined || systemId === identity.systemId) return undefined
    if (other !== undefined && other !== systemId) return undefined
    other = systemId
  }
  return other
}
