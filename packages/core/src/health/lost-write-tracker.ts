import type { WritesLostEvent } from '../observability/router-events.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import { formatLsn } from './lsn.js'
import type { TimelineHistory } from './timeline-history.js'

/**
 * Writes a former primary acknowledged on its timeline past the point where that timeline ended (its switch
 * point): they are not on the cluster's history. Each primary replaced by another node is remembered with the
 * timeline it led and how far it was seen to write on it; once that timeline's switch point is known, what it
 * wrote past it is reported, once per timeline, through `emit` (the `writes-lost` event).
 */
export class LostWriteTracker {
  readonly #nodes: NodeSet
  readonly #timelines: TimelineHistory
  readonly #emit: (event: WritesLostEvent) => void
  /** Primaries replaced by another node, by the timeline they led and how far they were seen to write on it. */
  readonly #formerLeaders = new Map<number, { readonly node: RouterNode; readonly lsn: bigint | undefined }>()
  /** Timelines whose lost writes were reported. */
  readonly #reported = new Set<number>()

  constructor(nodes: NodeSet, timelines: TimelineHistory, emit: (event: WritesLostEvent) => void) {
    this.#nodes = nodes
    this.#timelines = timelines
    this.#emit = emit
  }

  /** Whether a replaced primary is remembered (its timeline's switch point may still be learned). */
  get watching(): boolean {
    return this.#formerLeaders.size > 0
  }

  /** `former`, the primary that led `timeline`, is replaced by another node: remembers how far it was seen. */
  replaced(timeline: number, former: RouterNode): void {
    this.#formerLeaders.set(timeline, { node: former, lsn: former.lsn })
  }

  /** Forgets every former primary and report: the cluster behind the router's addresses was replaced. */
  clear(): void {
    this.#formerLeaders.clear()
    this.#reported.clear()
  }

  /**
   * A session's write (or a token) at `at` of `timeline` is past where that timeline ended: a former primary
   * acknowledged it there. Reported once per timeline (see {@link reportLost}).
   */
  lostWrite(timeline: number, at: bigint): void {
    const end = this.#timelines.endOf(timeline)
    const former = this.#formerLeaders.get(timeline)
    if (end === undefined || at < end || former === undefined) return
    this.#emitLost(timeline, end, at)
  }

  /**
   * Reports what each former primary wrote past the end of the timeline it led, once that timeline's switch point is
   * known: WAL it acknowledged there (its furthest position the router saw, from probes and from the positions read
   * after sessions' writes) is not on the cluster's history. Once per timeline; nothing when it was not seen past
   * the switch point (a session that finds its write lost reports it then, {@link lostWrite}).
   */
  reportLost(): void {
    for (const timeline of this.#formerLeaders.keys()) {
      const end = this.#timelines.endOf(timeline)
      if (end !== undefined) this.#emitLost(timeline, end, undefined)
    }
  }

  /** The `writes-lost` event of `timeline` (ended at `end`), once, if its former primary was seen past `end`. */
  #emitLost(timeline: number, end: bigint, at: bigint | undefined): void {
    const former = this.#formerLeaders.get(timeline)
    if (former === undefined || this.#reported.has(timeline)) return
    const { node } = former
    let reached = former.lsn
    const now = node.timeline === timeline ? node.lsn : undefined
    for (const seen of [now, at])
      if (seen !== undefined && (reached === undefined || seen > reached)) reached = seen
    if (reached === undefined || reached < end || (reached === end && at === undefined)) return
    this.#reported.add(timeline)
    this.#emit({
      node: node.name,
      timeline,
      from: formatLsn(end),
      to: formatLsn(reached),
      reason: `${node.name} acknowledged writes on timeline ${timeline} past the point where it ended (${formatLsn(end)}; seen at ${formatLsn(reached)}): they are not on timeline ${this.#nodes.timeline}`,
    })
  }
}
