import type { ResolvedOptions } from '../config/resolved-options.js'
import type { ClusterReplacedEvent, WritesLostEvent } from '../observability/router-events.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import { LostWriteTracker } from './lost-write-tracker.js'
import type { NodeLink } from './node-link.js'
import type { ProbeReading } from './node-probe.js'
import { ProbeScheduler } from './probe-scheduler.js'
import { ReplicaLagJudge } from './replica-lag-judge.js'
import { RoleChangeHandler } from './role-change-handler.js'
import { replacementIdentity, resolveRoles } from './role-resolver.js'
import { syncHoldback } from './sync-holdback.js'
import { type SyncSnapshot, syncStateOf } from './sync-replication.js'
import { SyncSnapshotLog } from './sync-snapshot-log.js'
import { TimelineHistory } from './timeline-history.js'
import { WatchedNode } from './watched-node.js'

type MonitorOptions = Pick<ResolvedOptions, 'lag' | 'healthCheck'>

/**
 * Probe rounds in a row in which every node must report the same other system identifier before the router
 * adopts the cluster behind its addresses as its own.
 */
export const REPLACEMENT_ROUNDS = 3

/**
 * Probes every node each `healthCheck.intervalMs`, observes the roles (see {@link resolveRoles}) and keeps each
 * node's state, lag and WAL position current. A probe is one statement per node per round (two once after a role
 * change, see `NodeProbe`).
 *
 * When the probes show another node leading the newest timeline, it becomes the primary ({@link NodeSet.elect}):
 * a failover is followed within one round. Replicas are judged against the primary's WAL position of the same
 * round ({@link ReplicaLagJudge}). A node whose probe fails is marked down at once and re-probed with exponential
 * back-off until it answers again ({@link ProbeScheduler}).
 *
 * A statement that fails with a connection error only makes its node suspect ({@link reportConnectionFailure}):
 * one lost connection is what a DBA's `pg_terminate_backend`, `idle_session_timeout` or a load balancer's reset
 * does to a healthy server. The node is probed at once; only a failed probe marks it down (and so cancels what
 * runs there, or refuses writes). Meanwhile new reads avoid a suspect replica.
 */
export class HealthMonitor {
  readonly #nodes: NodeSet
  readonly #options: MonitorOptions
  readonly #scrub: (text: string) => string
  readonly #watched = new Map<RouterNode, WatchedNode>()
  /** Each node's latest probe; `undefined` after a failure. */
  readonly #readings = new Map<RouterNode, ProbeReading | undefined>()
  /** The round each latest probe belongs to (0: a probe of its own, between rounds). */
  readonly #readInRound = new Map<RouterNode, number>()
  #roundSeq = 0
  /** Nodes a statement's connection failure made suspect, while the probe that settles it runs. */
  readonly #suspects = new Set<RouterNode>()
  /** When each node that is down was first found down (cleared by an answer). */
  readonly #downSince = new Map<RouterNode, number>()
  /** Another system identifier every node reported, and in how many rounds in a row. */
  #replacement: { readonly systemId: string; rounds: number } | undefined
  /** Where the timelines before the current one ended (their switch points), from the primary's history file. */
  readonly #timelines: TimelineHistory
  /** Told when the cluster behind the router's addresses was replaced and adopted. */
  onClusterReplaced: ((event: ClusterReplacedEvent) => void) | undefined
  /** Told when a former primary is known to have acknowledged WAL past the point where its timeline ended. */
  onWritesLost: ((event: WritesLostEvent) => void) | undefined
  readonly #lost: LostWriteTracker
  readonly #lag: ReplicaLagJudge
  readonly #roles: RoleChangeHandler
  readonly #rounds: ProbeScheduler
  /** The primary's latest snapshots of synchronous replication (probes and WAL-position lookups). */
  readonly #syncLog = new SyncSnapshotLog()
  readonly #firstRound: Promise<void>

  constructor(nodes: NodeSet, options: MonitorOptions, scrub: (text: string) => string) {
    this.#nodes = nodes
    this.#options = options
    this.#scrub = scrub
    this.#timelines = new TimelineHistory(options.healthCheck.timeoutMs)
    this.#lost = new LostWriteTracker(nodes, this.#timelines, (event) => this.onWritesLost?.(event))
    this.#lag = new ReplicaLagJudge(options)
    this.#roles = new RoleChangeHandler(nodes, this.#lag, this.#lost)
    this.#rounds = new ProbeScheduler(nodes, options.healthCheck, () => this.#round())
    for (const node of nodes.all) this.#watch(node)
    this.#firstRound = this.#rounds.start()
  }

  /** The router's own connection to `node`, shared by its probes and the router's own statements there. */
  linkOf(node: RouterNode): NodeLink | undefined {
    return this.#watched.get(node)?.link
  }

  /**
   * Set when the probe data may be older than `healthCheck.intervalMs`: the router has been idle (no statement
   * for `healthCheck.idleAfterMs`) and probes only every `healthCheck.idleIntervalMs`. A statement must then
   * wait for {@link fresh} before it chooses a node.
   */
  get stale(): boolean {
    return this.#rounds.stale
  }

  /**
   * Resolves once a probe round that started after this call, or the one running now, has been judged: the lag,
   * roles and states it leaves are fresh. A statement is coming: the router is active again.
   */
  fresh(): Promise<void> {
    return this.#rounds.fresh()
  }

  /**
   * Starts a probe round now if the data is stale (someone looks at `status()` or `health()`), without waiting for
   * it: the next look sees it. Does not count as activity.
   */
  kick(): void {
    this.#rounds.kick()
  }

  /** Records a snapshot of the primary's synchronous replication read outside a probe (a WAL-position lookup). */
  recordSync(snapshot: SyncSnapshot): void {
    this.#syncLog.record(snapshot)
  }

  /** The first snapshot of synchronous replication sent after `time` (`performance.now()`): the primary then. */
  syncSentAfter(time: number): SyncSnapshot | undefined {
    return this.#syncLog.sentAfter(time)
  }

  /** The latest snapshot of the primary's synchronous replication received before `time` (`performance.now()`). */
  syncBefore(time: number): SyncSnapshot | undefined {
    return this.#syncLog.before(time)
  }

  /** Resolves once every node has been probed once (successfully or not). */
  ready(): Promise<void> {
    return this.#firstRound
  }

  /** The primary's WAL position at the last successful probe. */
  get primaryLsn(): bigint | undefined {
    return this.#lag.primaryLsn
  }

  /** Starts probing a node added at runtime; resolves once its first probe was judged. */
  async add(node: RouterNode): Promise<void> {
    this.#watch(node)
    await this.#probe(node, 0)
    this.#judge()
  }

  /** Stops probing a removed node and closes the router's own connection to it. */
  async remove(node: RouterNode): Promise<void> {
    this.#rounds.forget(node)
    this.#readings.delete(node)
    this.#readInRound.delete(node)
    this.#downSince.delete(node)
    this.#lag.forget(node)
    this.#suspects.delete(node)
    this.#roles.forget(node)
    const watched = this.#watched.get(node)
    this.#watched.delete(node)
    watched?.stop()
    await watched?.close()
  }

  #watch(node: RouterNode): void {
    this.#watched.set(node, new WatchedNode(node, this.#options.healthCheck.timeoutMs))
  }

  /**
   * A statement (or an idle pooled connection) of `node` failed with a connection error: the node is suspect, and
   * probed now. A failed probe marks it down; an answer clears the suspicion. Until the probe settles, new reads
   * avoid a suspect replica (as one that is out of connection slots); nothing running is cancelled and no write is
   * refused on the strength of one lost connection.
   */
  reportConnectionFailure(node: RouterNode, error: unknown): void {
    if (this.#rounds.stopped || node.removed) return
    const message = this.#scrub(error instanceof Error ? error.message : String(error))
    if (node.state === 'down' || this.#suspects.has(node)) {
      node.suspected(message, 0)
      return
    }
    this.#suspects.add(node)
    const settleBy = Date.now() + this.#options.healthCheck.timeoutMs
    node.suspected(message, settleBy)
    void this.#probe(node, 0).then(() => {
      this.#suspects.delete(node)
      if (this.#rounds.stopped || this.#readings.get(node) === undefined) return
      // Cleared: reads may go there again at once.
      node.cleared(settleBy)
      this.#judge()
    })
  }

  /**
   * Where `timeline` ended (its switch point: WAL written on it past that point is not part of the cluster's
   * history), when the cluster has moved past it. Read once from the current primary's timeline history file
   * (`pg_read_file()`: a superuser, or a role granted EXECUTE on `pg_read_file(text)`); `undefined` when it cannot
   * be read (or `timeline` is the current one).
   */
  async timelineEnd(timeline: number): Promise<bigint | undefined> {
    const known = this.#timelines.endOf(timeline)
    const { primary } = this.#nodes
    const current = this.#nodes.timeline
    if (known !== undefined || timeline >= current || primary.role !== 'primary') return known
    await this.#timelines.learn(primary.spec, current)
    return this.#timelines.endOf(timeline)
  }

  /**
   * A session's write (or a token) at `at` of `timeline` is past where that timeline ended: a former primary
   * acknowledged it there. Reported with the `writes-lost` event, once per timeline ({@link LostWriteTracker}).
   */
  lostWrite(timeline: number, at: bigint): void {
    this.#lost.lostWrite(timeline, at)
  }

  /** Stops probing (the router's own connections stay open for statements still running: see {@link close}). */
  async stop(): Promise<void> {
    const stopping = this.#rounds.stop()
    for (const watched of this.#watched.values()) watched.stop()
    await stopping
  }

  /** Closes the router's own connection to every node (after {@link stop}, once the router's statements ended). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#watched.values()].map((watched) => watched.close()))
  }

  async #round(): Promise<void> {
    const seq = ++this.#roundSeq
    await Promise.all(this.#nodes.all.map((node) => this.#probe(node, seq)))
    if (this.#rounds.stopped) return
    this.#adoptReplacement()
    this.#judge()
    this.#lag.forgetReplayedHistory(this.#nodes)
    this.#rounds.next()
  }

  /** Probes one node and keeps its reading (of round `seq`; 0 outside a round); on failure marks it down. */
  async #probe(node: RouterNode, seq: number): Promise<void> {
    const watched = this.#watched.get(node)
    if (!watched) return
    try {
      const reading = await watched.read()
      node.probed(Date.now(), reading.systemId)
      node.observeRtt(reading.roundTripMs)
      this.#downSince.delete(node)
      // A standby between two WAL streams reports no timeline: it is still where it last streamed from.
      const timeline = reading.timeline ?? (reading.inRecovery ? node.timeline : undefined)
      if (!this.#watched.has(node)) return
      this.#readings.set(node, { ...reading, timeline })
      this.#readInRound.set(node, seq)
      if (reading.sync !== undefined) this.recordSync(reading.sync)
    } catch (error) {
      const at = Date.now()
      this.#readings.set(node, undefined)
      this.#readInRound.set(node, 0)
      if (!this.#rounds.stopped && !node.removed) this.#fail(node, error, at)
    }
    node.observeServers(watched.servers())
  }

  /** Decides every node's role and state from the latest readings. */
  #judge(): void {
    const nodes = this.#nodes
    const observations = nodes.all.map((node) => ({ node, reading: this.#readings.get(node) }))
    const timelines = this.#timelines
    const incumbent = this.#roles.incumbent(this.#downSince.get(nodes.primary))
    const resolution = resolveRoles(observations, nodes.primary, nodes, incumbent, (tl, current) =>
      timelines.forkOf(tl, current),
    )
    nodes.learnIdentity(resolution.systemId, resolution.timeline)
    const elected = resolution.primary
    const verdict = (node: RouterNode) => resolution.verdicts.get(node)
    if (elected !== undefined) {
      this.#roles.elect(elected, resolution.timeline)
      this.#roles.primaryRead(elected, this.#readings.get(elected)!)
      // The switch points of the timelines before the primary's, read once per timeline (in the background);
      // standbys waiting on an older timeline are judged again as soon as they are known.
      const current = resolution.timeline
      if (current > 1) {
        const first = timelines.forkOf(current - 1, current) === 'pending'
        const learning = timelines.learn(elected.spec, current)
        if (first) void learning.then(() => this.#rounds.stopped || this.#judge())
        if (this.#lost.watching) void learning.then(() => this.#lost.reportLost())
      }
    }
    const sync = elected === undefined ? undefined : this.#readings.get(elected)?.sync
    // The primary is down and no other node leads: replicas that may hold unacknowledged commits are held back.
    const down = elected === undefined && this.#readings.get(nodes.primary) === undefined
    const holdback = down ? syncHoldback(this.#syncLog.latest(), observations) : undefined
    for (const node of nodes.all) {
      const reading = this.#readings.get(node)
      const judged = verdict(node)
      if (reading === undefined) continue
      node.observeReplication(
        reading.inRecovery ? reading.applicationName : undefined,
        reading.inRecovery ? syncStateOf(sync, reading.applicationName) : undefined,
      )
      if (judged === undefined || node === elected) continue
      this.#roles.apply(node, reading, judged, this.#ofSameRound(elected, node), holdback)
    }
  }

  /** `primary`'s latest reading, when it was read in the same probe round as `node`'s. */
  #ofSameRound(primary: RouterNode | undefined, node: RouterNode): ProbeReading | undefined {
    if (primary === undefined) return undefined
    const round = this.#readInRound.get(node) ?? 0
    if (round === 0 || this.#readInRound.get(primary) !== round) return undefined
    return this.#readings.get(primary)
  }

  /**
   * Adopts the cluster behind the router's addresses when it was replaced (a blue/green switch behind stable
   * endpoints): once every node has reported the same other system identifier for {@link REPLACEMENT_ROUNDS}
   * rounds in a row, it is the cluster's identifier, its timelines start afresh, and `onClusterReplaced` is told.
   * Until then, its nodes stay fenced.
   */
  #adoptReplacement(): void {
    const nodes = this.#nodes
    const previous = nodes.systemId
    const observations = nodes.all.map((node) => ({ node, reading: this.#readings.get(node) }))
    const systemId = replacementIdentity(observations, nodes)
    if (systemId === undefined || previous === undefined) {
      this.#replacement = undefined
      return
    }
    if (this.#replacement?.systemId !== systemId) this.#replacement = { systemId, rounds: 0 }
    if (++this.#replacement.rounds < REPLACEMENT_ROUNDS) return
    this.#replacement = undefined
    nodes.learnIdentity(systemId, 0)
    this.#roles.reset()
    this.#timelines.clear()
    this.#lost.clear()
    // Positions of the old cluster say nothing of the new one's.
    this.#lag.restart()
    const reason = `every node reported system identifier ${systemId} instead of ${previous} for ${REPLACEMENT_ROUNDS} probe rounds in a row: the cluster behind the router's addresses was replaced`
    this.onClusterReplaced?.({ previousSystemId: previous, systemId, reason })
  }

  /** A probe of `node` failed: it is down (confirmed after a second failure in a row, see NodeSet.writable). */
  #fail(node: RouterNode, error: unknown, at: number): void {
    if (!this.#downSince.has(node)) this.#downSince.set(node, at)
    node.failed(error, this.#scrub(error instanceof Error ? error.message : String(error)), 'probe', at)
    // Replicas that may hold commits it never acknowledged are held back at once (see syncHoldback).
    if (node === this.#nodes.primary && this.#syncLog.latest() !== undefined) this.#judge()
    // A failed probe already dropped its connection.
    this.#rounds.backOff(node, async () => {
      await this.#probe(node, 0)
      if (!this.#rounds.stopped && this.#readings.get(node) !== undefined) this.#judge()
    })
  }
}
