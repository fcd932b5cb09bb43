import type { ResolvedOptions } from '../config/resolved-options.js'
import type { ClusterReplacedEvent, WritesLostEvent } from '../observability/router-events.js'
import type { NodeSet } from '../replicas/node-set.js'
import type { RouterNode } from '../replicas/router-node.js'
import { ConnectionWatch } from './connection-watch.js'
import { formatLsn, lsnDistance } from './lsn.js'
import { DEFAULT_SEGMENT_SIZE, NodeLink } from './node-link.js'
import { NodeProbe, type ProbeReading } from './node-probe.js'
import {
  type Incumbent,
  replacementIdentity,
  resolveRoles,
  SAME_TIMELINE_TAKEOVER_MS,
  type Verdict,
} from './role-resolver.js'
import { ServerSightings } from './server-identity.js'
import { type SyncSnapshot, syncStateOf } from './sync-replication.js'
import { TimelineHistory } from './timeline-history.js'
import { WalHistory } from './wal-history.js'

type MonitorOptions = Pick<ResolvedOptions, 'lag' | 'healthCheck'>

/**
 * How long the router's own connection to a node is kept before it is opened anew, so that a node whose address
 * leads to several servers (HAProxy, a reader endpoint) is sampled again even when its pool opens no connection.
 */
export const RESAMPLE_AFTER_MS = 5 * 60_000

/** Snapshots of the primary's synchronous replication kept (see {@link HealthMonitor.syncBefore}). */
const SYNC_SNAPSHOTS_KEPT = 64

/** What the monitor keeps of one node: its connection, its probe, the servers seen on its connections. */
interface Watched {
  readonly link: NodeLink
  readonly probe: NodeProbe
  readonly sightings: ServerSightings
  readonly pool: ConnectionWatch
}

/**
 * Probe rounds in a row in which every node must report the same other system identifier before the router
 * adopts the cluster behind its addresses as its own.
 */
export const REPLACEMENT_ROUNDS = 3

/**
 * Probes every node each `healthCheck.intervalMs`, observes the roles (see {@link resolveRoles}) and keeps each
 * node's state, lag and WAL position current. A probe is one statement per node per round.
 *
 * When the probes show another node leading the newest timeline, it becomes the primary ({@link NodeSet.elect}):
 * a failover is followed within one round. Replicas are judged against the primary's WAL position of the same
 * round. Byte lag is `primary LSN − replay LSN`; time lag is how long ago a probe first saw the primary past the
 * replica's replay position (see {@link WalHistory}), capped by the age of the last replayed commit, and 0 while
 * the replica is not behind at all. A node whose probe fails is marked down at once and re-probed with exponential
 * back-off until it answers again.
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
  readonly #watched = new Map<RouterNode, Watched>()
  /** Each node's latest probe; `undefined` after a failure. */
  readonly #readings = new Map<RouterNode, ProbeReading | undefined>()
  /** The round each latest probe belongs to (0: a probe of its own, between rounds). */
  readonly #readInRound = new Map<RouterNode, number>()
  #roundSeq = 0
  readonly #reprobes = new Map<RouterNode, NodeJS.Timeout>()
  /** Nodes a statement's connection failure made suspect, while the probe that settles it runs. */
  readonly #suspects = new Set<RouterNode>()
  /** The primary as a probe last saw it lead (its timeline and position), for {@link resolveRoles}. */
  #led:
    | { readonly node: RouterNode; readonly timeline: number | undefined; readonly lsn: bigint | undefined }
    | undefined
  /** When each node that is down was first found down (cleared by an answer). */
  readonly #downSince = new Map<RouterNode, number>()
  /**
   * Standbys without a WAL receiver: the primary's position (and timeline) in the last round in which the standby
   * missed no transaction. The WAL before it that the standby lacks holds none: its lag in time counts from there.
   */
  readonly #covered = new Map<RouterNode, { readonly lsn: bigint; readonly timeline: number | undefined }>()
  /** Another system identifier every node reported, and in how many rounds in a row. */
  #replacement: { readonly systemId: string; rounds: number } | undefined
  /** Where the timelines before the current one ended (their switch points), from the primary's history file. */
  readonly #timelines: TimelineHistory
  /** Told when the cluster behind the router's addresses was replaced and adopted. */
  onClusterReplaced: ((event: ClusterReplacedEvent) => void) | undefined
  /** Told when a former primary is known to have acknowledged WAL past the point where its timeline ended. */
  onWritesLost: ((event: WritesLostEvent) => void) | undefined
  /**
   * Primaries replaced by another node, by the timeline they led and how far they were seen to write on it: once
   * that timeline's switch point is known, what they wrote past it is reported lost ({@link #reportLost}).
   */
  readonly #formerLeaders = new Map<number, { readonly node: RouterNode; readonly lsn: bigint | undefined }>()
  /** Timelines whose lost writes were reported. */
  readonly #reportedLost = new Set<number>()
  #roundTimer: NodeJS.Timeout | undefined
  /** The round running now, if any: callers who need fresh data share it. */
  #running: Promise<void> | undefined
  /** Set while the router is idle and the latest round is older than `healthCheck.intervalMs`. */
  #stale = false
  #staleTimer: NodeJS.Timeout | undefined
  /** When the router last ran a statement, as far as the rounds could tell (`Date.now()`). */
  #activeAt = Date.now()
  /** Statements completed and running at the end of the last round: a change is activity. */
  #traffic = -1
  #primaryLsn: bigint | undefined
  #history = new WalHistory()
  /** The primary's latest snapshots of synchronous replication, oldest first (probes and WAL-position lookups). */
  #syncSnapshots: SyncSnapshot[] = []
  #stopped = false
  readonly #firstRound: Promise<void>

  constructor(nodes: NodeSet, options: MonitorOptions, scrub: (text: string) => string) {
    this.#nodes = nodes
    this.#options = options
    this.#scrub = scrub
    this.#timelines = new TimelineHistory(options.healthCheck.timeoutMs)
    for (const node of nodes.all) this.#watch(node)
    this.#firstRound = this.#startRound()
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
    return this.#stale
  }

  /**
   * Resolves once a probe round that started after this call, or the one running now, has been judged: the lag,
   * roles and states it leaves are fresh. A statement is coming: the router is active again.
   */
  fresh(): Promise<void> {
    this.#activeAt = Date.now()
    return this.#roundNow()
  }

  /**
   * Starts a probe round now if the data is stale (someone looks at `status()` or `health()`), without waiting for
   * it: the next look sees it. Does not count as activity.
   */
  kick(): void {
    if (this.#stale && !this.#stopped) void this.#roundNow()
  }

  /** Records a snapshot of the primary's synchronous replication read outside a probe (a WAL-position lookup). */
  recordSync(snapshot: SyncSnapshot): void {
    const kept = this.#syncSnapshots
    let at = kept.length
    while (at > 0 && kept[at - 1]!.receivedAt > snapshot.receivedAt) at--
    kept.splice(at, 0, snapshot)
    if (kept.length > SYNC_SNAPSHOTS_KEPT) kept.splice(0, kept.length - SYNC_SNAPSHOTS_KEPT)
  }

  /**
   * The first snapshot of the primary's synchronous replication whose statement was sent after `time`
   * (`performance.now()`): it describes the primary after that moment, as close to it as the router knows.
   */
  syncSentAfter(time: number): SyncSnapshot | undefined {
    return this.#syncSnapshots.find((snapshot) => snapshot.sentAt > time)
  }

  /** The latest snapshot of the primary's synchronous replication received before `time` (`performance.now()`). */
  syncBefore(time: number): SyncSnapshot | undefined {
    const kept = this.#syncSnapshots
    for (let i = kept.length - 1; i >= 0; i--) if (kept[i]!.receivedAt < time) return kept[i]
    return undefined
  }

  /** Resolves once every node has been probed once (successfully or not). */
  ready(): Promise<void> {
    return this.#firstRound
  }

  /** The primary's WAL position at the last successful probe. */
  get primaryLsn(): bigint | undefined {
    return this.#primaryLsn
  }

  /** Starts probing a node added at runtime; resolves once its first probe was judged. */
  async add(node: RouterNode): Promise<void> {
    this.#watch(node)
    await this.#probe(node, 0)
    this.#judge()
  }

  /** Stops probing a removed node and closes the router's own connection to it. */
  async remove(node: RouterNode): Promise<void> {
    clearTimeout(this.#reprobes.get(node))
    this.#reprobes.delete(node)
    this.#readings.delete(node)
    this.#readInRound.delete(node)
    this.#downSince.delete(node)
    this.#covered.delete(node)
    this.#suspects.delete(node)
    if (this.#led?.node === node) this.#led = undefined
    const watched = this.#watched.get(node)
    this.#watched.delete(node)
    watched?.pool.stop()
    await watched?.link.close()
  }

  #watch(node: RouterNode): void {
    const { timeoutMs } = this.#options.healthCheck
    const sightings = new ServerSightings()
    const link = new NodeLink(node.spec, {
      connectTimeoutMs: timeoutMs,
      onConnect: (info) => (info.server === undefined ? undefined : sightings.hold(info.server)),
    })
    this.#watched.set(node, {
      link,
      probe: new NodeProbe(link, timeoutMs),
      sightings,
      pool: new ConnectionWatch(node.pool, sightings),
    })
  }

  /**
   * A statement (or an idle pooled connection) of `node` failed with a connection error: the node is suspect, and
   * probed now. A failed probe marks it down; an answer clears the suspicion. Until the probe settles, new reads
   * avoid a suspect replica (as one that is out of connection slots); nothing running is cancelled and no write is
   * refused on the strength of one lost connection.
   */
  reportConnectionFailure(node: RouterNode, error: unknown): void {
    if (this.#stopped || node.removed) return
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
      if (this.#stopped || this.#readings.get(node) === undefined) return
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

  /** Stops probing (the router's own connections stay open for statements still running: see {@link close}). */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#roundTimer)
    clearTimeout(this.#staleTimer)
    for (const timer of this.#reprobes.values()) clearTimeout(timer)
    this.#reprobes.clear()
    for (const watched of this.#watched.values()) watched.pool.stop()
    await this.#running?.catch(() => {})
  }

  /** Closes the router's own connection to every node (after {@link stop}, once the router's statements ended). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#watched.values()].map((watched) => watched.link.close()))
  }

  /** A round now: the one running, else a new one (the next scheduled one is rescheduled after it). */
  #roundNow(): Promise<void> {
    if (this.#running !== undefined) return this.#running
    clearTimeout(this.#roundTimer)
    return this.#startRound()
  }

  #startRound(): Promise<void> {
    const running = this.#round().finally(() => {
      if (this.#running === running) this.#running = undefined
    })
    this.#running = running
    return running
  }

  async #round(): Promise<void> {
    const seq = ++this.#roundSeq
    await Promise.all(this.#nodes.all.map((node) => this.#probe(node, seq)))
    if (this.#stopped) return
    this.#adoptReplacement()
    this.#judge()
    this.#forgetReplayedHistory()
    this.#schedule()
  }

  /**
   * The next round: in `healthCheck.intervalMs` while the router is active (it ran a statement within
   * `healthCheck.idleAfterMs`), else in `healthCheck.idleIntervalMs`; then the data is marked stale once it is
   * older than `intervalMs`, so that the next statement waits for a fresh round ({@link fresh}).
   */
  #schedule(): void {
    const { intervalMs, idleAfterMs, idleIntervalMs } = this.#options.healthCheck
    const now = Date.now()
    // Statements completed since the last round, or running now: the router is active.
    let traffic = 0
    let running = false
    for (const node of this.#nodes.all) {
      traffic += node.served
      if (node.inFlight > 0) running = true
    }
    if (running || traffic !== this.#traffic) this.#activeAt = now
    this.#traffic = traffic
    const idle = idleIntervalMs > intervalMs && now - this.#activeAt >= idleAfterMs
    clearTimeout(this.#staleTimer)
    this.#stale = false
    if (idle) {
      this.#staleTimer = setTimeout(() => {
        this.#stale = true
      }, intervalMs)
      this.#staleTimer.unref()
    }
    this.#roundTimer = setTimeout(() => void this.#startRound(), idle ? idleIntervalMs : intervalMs)
    this.#roundTimer.unref()
  }

  /** Probes one node and keeps its reading (of round `seq`; 0 outside a round); on failure marks it down. */
  async #probe(node: RouterNode, seq: number): Promise<void> {
    const watched = this.#watched.get(node)
    if (!watched) return
    try {
      // Opened anew now and then: a node that is several servers is sampled again (see RESAMPLE_AFTER_MS).
      const { link } = watched
      if (link.connected && Date.now() - link.openedAt > RESAMPLE_AFTER_MS) link.release()
      const reading = await watched.probe.read()
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
      if (!this.#stopped && !node.removed) this.#fail(node, error, at)
    }
    node.observeServers(serversOf(watched.sightings))
  }

  /** Decides every node's role and state from the latest readings. */
  #judge(): void {
    const nodes = this.#nodes
    const observations = nodes.all.map((node) => ({ node, reading: this.#readings.get(node) }))
    const timelines = this.#timelines
    const resolution = resolveRoles(observations, nodes.primary, nodes, this.#incumbent(), (tl, current) =>
      timelines.forkOf(tl, current),
    )
    nodes.learnIdentity(resolution.systemId, resolution.timeline)
    const elected = resolution.primary
    if (elected !== undefined && elected !== nodes.primary) {
      // Another node's WAL: positions of the old primary say nothing of the new one's lag clock.
      this.#history = new WalHistory()
      this.#primaryLsn = undefined
      const former = nodes.primary
      const last = this.#led
      const led = last?.node === former ? last.timeline : former.timeline
      if (led !== undefined && led < resolution.timeline)
        this.#formerLeaders.set(led, { node: former, lsn: former.lsn })
      nodes.elect(elected, `leads timeline ${resolution.timeline}`)
    } else if (elected !== undefined && elected.role !== 'primary') {
      nodes.elect(elected, 'out of recovery again')
    }
    const verdict = (node: RouterNode) => resolution.verdicts.get(node)
    if (elected !== undefined) {
      this.#applyPrimary(elected, this.#readings.get(elected)!)
      // The switch points of the timelines before the primary's, read once per timeline (in the background);
      // standbys waiting on an older timeline are judged again as soon as they are known.
      const current = resolution.timeline
      if (current > 1) {
        const first = timelines.forkOf(current - 1, current) === 'pending'
        const learning = timelines.learn(elected.spec, current)
        if (first) void learning.then(() => this.#stopped || this.#judge())
        if (this.#formerLeaders.size > 0) void learning.then(() => this.#reportLost())
      }
    }
    const sync = elected === undefined ? undefined : this.#readings.get(elected)?.sync
    for (const node of nodes.all) {
      const reading = this.#readings.get(node)
      const judged = verdict(node)
      if (reading === undefined) continue
      node.observeReplication(
        reading.inRecovery ? reading.applicationName : undefined,
        reading.inRecovery ? syncStateOf(sync, reading.applicationName) : undefined,
      )
      if (judged === undefined || node === elected) continue
      this.#apply(node, reading, judged, elected)
    }
  }

  #applyPrimary(node: RouterNode, reading: ProbeReading): void {
    this.#led = { node, timeline: reading.timeline ?? this.#nodes.timeline, lsn: reading.lsn }
    node.observe({ timeline: reading.timeline, lsn: reading.lsn, lagBytes: 0, lagSeconds: 0 })
    if (reading.lsn !== undefined) {
      this.#primaryLsn = reading.lsn
      this.#history.record(reading.lsn, Date.now())
    }
    node.setState('up', 'reachable')
  }

  #apply(node: RouterNode, reading: ProbeReading, verdict: Verdict, primary: RouterNode | undefined): void {
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
    this.#judgeReplica(node, reading, primary)
  }

  #judgeReplica(node: RouterNode, reading: ProbeReading, primary: RouterNode | undefined): void {
    const primaryLsn = this.#primaryLsn
    const behind = primaryLsn !== undefined && reading.lsn !== undefined && reading.lsn < primaryLsn
    // A standby without a WAL receiver (fed from the archive) that counts the same transactions as completed as the
    // primary did in the same round misses none: what it lacks is WAL without a transaction (the background
    // writer's running-transactions record of an idle primary, which archive_timeout never ships).
    const shipped = reading.inRecovery && reading.receiver === false
    const missesNone = shipped && behind && this.#sameSnapshot(node, reading, primary)
    if (missesNone) this.#covered.set(node, { lsn: primaryLsn!, timeline: reading.timeline })
    else if (!shipped) this.#covered.delete(node)
    // Lag in time from the first position it lacks a transaction before: after an idle spell, the idle record it
    // never got is not the oldest WAL it misses once writes resume.
    const covered = this.#covered.get(node)
    const from =
      covered !== undefined &&
      covered.timeline === reading.timeline &&
      reading.lsn !== undefined &&
      covered.lsn > reading.lsn
        ? covered.lsn
        : reading.lsn
    node.observe({
      timeline: reading.timeline,
      lsn: reading.lsn,
      receiveLsn: reading.receiveLsn,
      lagBytes:
        primaryLsn !== undefined && reading.lsn !== undefined ? lsnDistance(reading.lsn, primaryLsn) : 0,
      lagSeconds:
        behind && !missesNone
          ? this.#secondsBehind(from!, from === reading.lsn ? reading.replayAgeSeconds : undefined)
          : 0,
    })
    const { maxBytes, maxMs } = this.#options.lag
    // Log shipping holds back, by design, the segment the primary is writing and one closed segment on its way
    // through the archive: most of a segment closed by archive_timeout is padding, not WAL the standby lacks.
    const allowance =
      shipped && primaryLsn !== undefined ? shippingAllowance(primaryLsn, reading.segmentSize) : 0
    if (reading.lsn === undefined) {
      node.setState('lagging', 'has not replayed any WAL yet')
    } else if (node.lagBytes - allowance > maxBytes) {
      const beyond = allowance > 0 ? ` beyond the ${allowance} bytes log shipping holds back` : ''
      node.setState('lagging', `${node.lagBytes} bytes behind${beyond} (lag.maxBytes ${maxBytes})`)
    } else if (node.lagSeconds * 1000 > maxMs) {
      node.setState('lagging', `${node.lagSeconds.toFixed(1)} s behind (lag.maxMs ${maxMs})`)
    } else {
      const caughtUp = node.state === 'lagging' || node.state === 'fenced'
      node.setState('up', caughtUp ? 'caught up' : 'reachable and within lag bounds')
    }
  }

  /**
   * Age of the oldest WAL a replica that replayed up to `replayed` is missing. The history gives it to within one
   * interval; the age of the last replayed commit bounds it from above and stands in when the history cannot tell
   * (the primary was already past `replayed` at the first probe).
   */
  #secondsBehind(replayed: bigint, replayAgeSeconds: number | undefined): number {
    const now = Date.now()
    const seenAt = this.#history.firstSeenPast(replayed)
    let sinceSeen = seenAt === undefined ? undefined : (now - seenAt) / 1000
    // Probes further apart than one interval (the router was idle): the WAL may be as old as the probe before,
    // less one interval, so that the figure stays exact to within one interval as when probes are regular.
    const before = seenAt === undefined ? undefined : this.#history.lastSeenAtOrBefore(replayed)
    if (sinceSeen !== undefined && before !== undefined) {
      sinceSeen = Math.max(sinceSeen, (now - before - this.#options.healthCheck.intervalMs) / 1000)
    }
    const seconds =
      sinceSeen === undefined
        ? (replayAgeSeconds ?? 0)
        : replayAgeSeconds === undefined
          ? sinceSeen
          : Math.min(sinceSeen, replayAgeSeconds)
    return Math.max(0, seconds)
  }

  /** Whether `node`'s reading and the primary's, of the same round, count the same transactions as completed. */
  #sameSnapshot(node: RouterNode, reading: ProbeReading, primary: RouterNode | undefined): boolean {
    if (primary === undefined || reading.snapshot === undefined) return false
    const round = this.#readInRound.get(node) ?? 0
    if (round === 0 || this.#readInRound.get(primary) !== round) return false
    return this.#readings.get(primary)?.snapshot === reading.snapshot
  }

  /** Keeps the history only as far back as the replica furthest behind needs it. */
  #forgetReplayedHistory(): void {
    let oldest: bigint | undefined
    for (const node of this.#nodes.all) {
      if (node.role !== 'replica' || node.state === 'fenced' || node.lsn === undefined) continue
      if (node.timeline !== undefined && node.timeline !== this.#nodes.timeline) continue
      if (oldest === undefined || node.lsn < oldest) oldest = node.lsn
    }
    if (oldest !== undefined) this.#history.forgetUpTo(oldest)
  }

  /**
   * What {@link resolveRoles} needs to know of the current primary: the timeline and position a probe last saw it
   * lead (none while no probe has seen it as primary), and whether it is gone.
   */
  #incumbent(): Incumbent {
    const { primary } = this.#nodes
    const led = this.#led?.node === primary ? this.#led : undefined
    const downSince = this.#downSince.get(primary)
    const gone = downSince !== undefined && Date.now() - downSince >= SAME_TIMELINE_TAKEOVER_MS
    return { timeline: led?.timeline, lsn: led?.lsn, gone }
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
    this.#led = undefined
    this.#timelines.clear()
    this.#formerLeaders.clear()
    this.#reportedLost.clear()
    // Positions of the old cluster say nothing of the new one's.
    this.#history = new WalHistory()
    this.#primaryLsn = undefined
    const reason = `every node reported system identifier ${systemId} instead of ${previous} for ${REPLACEMENT_ROUNDS} probe rounds in a row: the cluster behind the router's addresses was replaced`
    this.onClusterReplaced?.({ previousSystemId: previous, systemId, reason })
  }

  /**
   * A session's write (or a token) at `at` of `timeline` is past where that timeline ended: a former primary
   * acknowledged it there. Reported with the `writes-lost` event, once per timeline (see {@link #reportLost}).
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
  #reportLost(): void {
    for (const timeline of this.#formerLeaders.keys()) {
      const end = this.#timelines.endOf(timeline)
      if (end !== undefined) this.#emitLost(timeline, end, undefined)
    }
  }

  /** The `writes-lost` event of `timeline` (ended at `end`), once, if its former primary was seen past `end`. */
  #emitLost(timeline: number, end: bigint, at: bigint | undefined): void {
    const former = this.#formerLeaders.get(timeline)
    if (former === undefined || this.#reportedLost.has(timeline)) return
    const { node } = former
    let reached = former.lsn
    const now = node.timeline === timeline ? node.lsn : undefined
    for (const seen of [now, at])
      if (seen !== undefined && (reached === undefined || seen > reached)) reached = seen
    if (reached === undefined || reached < end || (reached === end && at === undefined)) return
    this.#reportedLost.add(timeline)
    this.onWritesLost?.({
      node: node.name,
      timeline,
      from: formatLsn(end),
      to: formatLsn(reached),
      reason: `${node.name} acknowledged writes on timeline ${timeline} past the point where it ended (${formatLsn(end)}; seen at ${formatLsn(reached)}): they are not on timeline ${this.#nodes.timeline}`,
    })
  }

  /** A probe of `node` failed: it is down (confirmed after a second failure in a row, see NodeSet.writable). */
  #fail(node: RouterNode, error: unknown, at: number): void {
    if (!this.#downSince.has(node)) this.#downSince.set(node, at)
    node.failed(error, this.#scrub(error instanceof Error ? error.message : String(error)), 'probe', at)
    // A failed probe already dropped its connection.
    this.#scheduleReprobe(node)
  }

  /** Exponential back-off from 100 ms to `healthCheck.maxBackoffMs`; one pending re-probe per node. */
  #scheduleReprobe(node: RouterNode): void {
    if (this.#reprobes.has(node) || this.#stopped) return
    const delay = Math.min(this.#options.healthCheck.maxBackoffMs, 100 * 2 ** Math.min(node.failures - 1, 16))
    const timer = setTimeout(async () => {
      this.#reprobes.delete(node)
      await this.#probe(node, 0)
      if (!this.#stopped && this.#readings.get(node) !== undefined) this.#judge()
    }, delay)
    timer.unref()
    this.#reprobes.set(node, timer)
  }
}

/**
 * What log shipping holds back by design from a standby fed from the archive, with the primary at `primaryLsn`:
 * the part of the segment the primary is writing, and one whole segment closed and on its way through the archive.
 */
function shippingAllowance(primaryLsn: bigint, segmentSize: number | undefined): number {
  const size = BigInt(segmentSize ?? DEFAULT_SEGMENT_SIZE)
  return Number((primaryLsn % size) + size)
}

/** What a node's sightings say for `status()` and `health()`. */
function serversOf(sightings: ServerSightings): { count: number; problem: string | undefined } {
  return { count: sightings.servers().length, problem: sightings.problem() }
}
