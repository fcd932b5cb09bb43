import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import type { LostWriteTracker } from './lost-write-tracker.js'
import type { ProbeReading } from './node-probe.js'
import type { ReplicaLagJudge } from './replica-lag-judge.js'
import { type Incumbent, SAME_TIMELINE_TAKEOVER_MS, type Verdict } from './role-resolver.js'
import type { Holdback } from './sync-holdback.js'

/** The primary as a probe last saw it lead: its timeline and WAL position. */
interface Led {
  readonly node: RouterNode
  readonly timeline: number | undefined
  readonly lsn: bigint | undefined
}

/**
 * Carries out the roles that {@link resolveRoles} finds in a probe round: makes the node it elects the primary
 * ({@link NodeSet.elect}: a failover is followed within one round), demotes a primary back in recovery, fences a
 * node outside the cluster's history, holds back a standby still on an older timeline, and leaves the others to the
 * lag judge. Keeps what the last probe of the primary saw it lead, which the next resolution weighs.
 */
export class RoleChangeHandler {
  readonly #nodes: NodeSet
  readonly #lag: ReplicaLagJudge
  readonly #lost: LostWriteTracker
  /** The primary as a probe last saw it lead (its timeline and position), for {@link resolveRoles}. */
  #led: Led | undefined

  constructor(nodes: NodeSet, lag: ReplicaLagJudge, lost: LostWriteTracker) {
    this.#nodes = nodes
    this.#lag = lag
    this.#lost = lost
  }

  /**
   * What {@link resolveRoles} needs to know of the current primary: the timeline and position a probe last saw it
   * lead (none while no probe has seen it as primary), and whether it is gone (down since `downSince`).
   */
  incumbent(downSince: number | undefined): Incumbent {
    const { primary } = this.#nodes
    const led = this.#led?.node === primary ? this.#led : undefined
    const gone = downSince !== undefined && Date.now() - downSince >= SAME_TIMELINE_TAKEOVER_MS
    return { timeline: led?.timeline, lsn: led?.lsn, gone }
  }

  /** `elected` leads `timeline`, the cluster's newest: it is the primary from now on. */
  elect(elected: RouterNode, timeline: number): void {
    const nodes = this.#nodes
    if (elected !== nodes.primary) {
      // Another node's WAL: positions of the old primary say nothing of the new one's lag clock.
      this.#lag.restart()
      const former = nodes.primary
      const last = this.#led
      const led = last?.node === former ? last.timeline : former.timeline
      if (led !== undefined && led < timeline) this.#lost.replaced(led, former)
      nodes.elect(elected, `leads timeline ${timeline}`)
    } else if (elected.role !== 'primary') {
      nodes.elect(elected, 'out of recovery again')
    }
  }

  /** The primary's reading of this round: it leads there, and replicas are judged against its position. */
  primaryRead(node: RouterNode, reading: ProbeReading): void {
    this.#led = { node, timeline: reading.timeline ?? this.#nodes.timeline, lsn: reading.lsn }
    node.observe({ timeline: reading.timeline, lsn: reading.lsn, lagBytes: 0, lagSeconds: 0 })
    this.#lag.primaryAt(reading.lsn)
    node.setState('up', 'reachable')
  }

  /**
   * Applies `verdict` to `node`, any node but the elected primary. `primaryReading`: the primary's reading of the
   * same round as `reading`, if any, for the lag judge. `holdback`: while the primary is down, says why a replica
   * that may hold commits never acknowledged serves no reads (`syncHoldback`).
   */
  apply(
    node: RouterNode,
    reading: ProbeReading,
    verdict: Verdict,
    primaryReading: ProbeReading | undefined,
    holdback?: Holdback,
  ): void {
    if (verdict.role === 'replica' && node.role === 'primary') {
      // The primary went back into recovery and no other node leads yet: it may serve reads, not writes.
      this.#nodes.demote(node)
    }
    if (verdict.role === 'fenced') {
      node.observe({ timeline: reading.timeline, lsn: reading.lsn })
      node.setState('fenced', verdict.reason)
      return
    }
    if (verdict.role === 'replica' && verdict.waiting !== undefined) {
      // A prefix of the cluster's timeline on an older one: its positions are not comparable with the primary's.
      node.observe({ timeline: reading.timeline, lsn: reading.lsn, receiveLsn: reading.receiveLsn })
      node.setState('lagging', verdict.waiting)
      return
    }
    const held = verdict.role === 'replica' ? holdback?.(node, reading) : undefined
    if (held !== undefined) {
      node.observe({ timeline: reading.timeline, lsn: reading.lsn, receiveLsn: reading.receiveLsn })
      node.setState('lagging', held)
      return
    }
    this.#lag.judge(node, reading, primaryReading)
  }

  /** Forgets `node` (it left the router). */
  forget(node: RouterNode): void {
    if (this.#led?.node === node) this.#led = undefined
  }

  /** Forgets what the primary led: the cluster behind the router's addresses was replaced. */
  reset(): void {
    this.#led = undefined
  }
}
