import type { ResolvedOptions } from '../config/resolved-options.js'
import type { RouterNode } from '../replicas/router-node.js'
import { lsnDistance } from './lsn.js'
import { NodeProbe, type ProbeReading } from './node-probe.js'
import { WalHistory } from './wal-history.js'

type MonitorOptions = Pick<ResolvedOptions, 'lag' | 'healthCheck'>

/**
 * Probes every node each `healthCheck.intervalMs` and keeps each node's state, lag and WAL position current.
 *
 * A round probes the primary and all replicas at once, then computes each replica's lag against the primary's
 * WAL position of the same round. Byte lag is `primary LSN − replay LSN`; time lag is how long ago a probe first
 * saw the primary past the replica's replay position (see {@link WalHistory}), capped by the age of the last
 * replayed commit, and 0 while the replica is not behind at all. A node that fails (a probe, or a statement with a connection error) is marked
 * down at once and re-probed with exponential back-off until it answers again.
 */
export class HealthMonitor {
  readonly #primary: RouterNode
  readonly #replicas: readonly RouterNode[]
  readonly #options: MonitorOptions
  readonly #scrub: (text: string) => string
  readonly #probes = new Map<RouterNode, NodeProbe>()
  readonly #reprobes = new Map<RouterNode, NodeJS.Timeout>()
  #roundTimer: NodeJS.Timeout | undefined
  #primaryLsn: bigint | undefined
  readonly #history = new WalHistory()
  #stopped = false
  readonly #firstRound: Promise<void>

  constructor(
    primary: RouterNode,
    replicas: readonly RouterNode[],
    options: MonitorOptions,
    scrub: (text: string) => string,
  ) {
    this.#primary = primary
    this.#replicas = replicas
    this.#options = options
    this.#scrub = scrub
    for (const node of [primary, ...replicas]) {
      this.#probes.set(node, new NodeProbe(node.spec, options.healthCheck.timeoutMs))
    }
    this.#firstRound = this.#round()
  }

  /** Resolves once every node has been probed once (successfully or not). */
  ready(): Promise<void> {
    return this.#firstRound
  }

  /** The primary's WAL position at the last successful probe. */
  get primaryLsn(): bigint | undefined {
    return this.#primaryLsn
  }

  /**
   * Marks a node down after a statement failed on it with a connection error, and schedules a re-probe: the
   * circuit breaker. Reads stop going there now, not at the next round.
   */
  reportConnectionFailure(node: RouterNode, error: unknown): void {
    if (this.#stopped) return
    this.#fail(node, error)
  }

  /** Records a replay position learned outside a probe (a direct read-your-writes check). */
  observeReplay(node: RouterNode, lsn: bigint): void {
    if (node.lsn === undefined || lsn > node.lsn) node.lsn = lsn
  }

  /** Stops probing and closes every probe connection. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#roundTimer)
    for (const timer of this.#reprobes.values()) clearTimeout(timer)
    this.#reprobes.clear()
    await Promise.allSettled([...this.#probes.values()].map((probe) => probe.close()))
  }

  async #round(): Promise<void> {
    // Replicas are judged against the primary's position of this same round.
    await Promise.allSettled([this.#probePrimary(), ...this.#replicas.map((node) => this.#read(node))]).then(
      (results) => {
        results.slice(1).forEach((result, i) => {
          const node = this.#replicas[i]!
          if (result.status === 'fulfilled' && result.value) this.#judgeReplica(node, result.value)
        })
      },
    )
    this.#forgetReplayedHistory()
    if (this.#stopped) return
    this.#roundTimer = setTimeout(() => void this.#round(), this.#options.healthCheck.intervalMs)
    this.#roundTimer.unref()
  }

  async #probePrimary(): Promise<void> {
    const reading = await this.#read(this.#primary)
    if (!reading) return
    if (reading.lsn !== undefined && !reading.inRecovery) {
      this.#primaryLsn = reading.lsn
      this.#history.record(reading.lsn, Date.now())
    }
    this.#primary.lsn = reading.lsn
    this.#primary.setState(
      reading.inRecovery ? 'down' : 'up',
      reading.inRecovery ? 'the primary is in recovery (a standby)' : 'reachable',
    )
  }

  /** Probes one node; on failure marks it down and returns undefined. */
  async #read(node: RouterNode): Promise<ProbeReading | undefined> {
    try {
      const reading = await this.#probes.get(node)!.read()
      node.lastProbeAt = Date.now()
      node.failures = 0
      return reading
    } catch (error) {
      node.lastProbeAt = Date.now()
      if (!this.#stopped) this.#fail(node, error)
      return undefined
    }
  }

  #judgeReplica(node: RouterNode, reading: ProbeReading): void {
    node.lsn = reading.lsn
    node.receiveLsn = reading.receiveLsn
    if (!reading.inRecovery) {
      node.lagBytes = 0
      node.lagSeconds = 0
      node.setState('promoted', 'no longer in recovery (promoted): not following the primary')
      return
    }
    const primaryLsn = this.#primaryLsn
    const behind = primaryLsn !== undefined && reading.lsn !== undefined && reading.lsn < primaryLsn
    node.lagBytes =
      primaryLsn !== undefined && reading.lsn !== undefined ? lsnDistance(reading.lsn, primaryLsn) : 0
    node.lagSeconds = behind ? this.#secondsBehind(reading.lsn!, reading.replayAgeSeconds) : 0
    const { maxBytes, maxSeconds } = this.#options.lag
    if (reading.lsn === undefined) {
      node.setState('lagging', 'has not replayed any WAL yet')
    } else if (node.lagBytes > maxBytes) {
      node.setState('lagging', `${node.lagBytes} bytes behind (lag.maxBytes ${maxBytes})`)
    } else if (node.lagSeconds > maxSeconds) {
      node.setState('lagging', `${node.lagSeconds.toFixed(1)} s behind (lag.maxSeconds ${maxSeconds})`)
    } else {
      node.setState('up', node.state === 'lagging' ? 'caught up' : 'reachable and within lag bounds')
    }
  }

  /**
   * Age of the oldest WAL a replica that replayed up to `replayed` is missing. The history gives it to within one
   * interval; the age of the last replayed commit bounds it from above and stands in when the history cannot tell
   * (the primary was already past `replayed` at the first probe).
   */
  #secondsBehind(replayed: bigint, replayAgeSeconds: number | undefined): number {
    const seenAt = this.#history.firstSeenPast(replayed)
    const sinceSeen = seenAt === undefined ? undefined : (Date.now() - seenAt) / 1000
    const seconds =
      sinceSeen === undefined
        ? (replayAgeSeconds ?? 0)
        : replayAgeSeconds === undefined
          ? sinceSeen
          : Math.min(sinceSeen, replayAgeSeconds)
    return Math.max(0, seconds)
  }

  /** Keeps the history only as far back as the replica furthest behind needs it. */
  #forgetReplayedHistory(): void {
    let oldest: bigint | undefined
    for (const node of this.#replicas) {
      if (node.state === 'promoted' || node.lsn === undefined) continue
      if (oldest === undefined || node.lsn < oldest) oldest = node.lsn
    }
    if (oldest !== undefined) this.#history.forgetUpTo(oldest)
  }

  #fail(node: RouterNode, error: unknown): void {
    node.failures++
    node.errors++
    node.lastFailure = error
    node.lastError = this.#scrub(error instanceof Error ? error.message : String(error))
    node.setState('down', node.lastError)
    this.#probes.get(node)?.reset()
    this.#scheduleReprobe(node)
  }

  /** Exponential back-off from 100 ms to `healthCheck.maxBackoffMs`; one pending re-probe per node. */
  #scheduleReprobe(node: RouterNode): void {
    if (this.#reprobes.has(node) || this.#stopped) return
    const delay = Math.min(this.#options.healthCheck.maxBackoffMs, 100 * 2 ** Math.min(node.failures - 1, 16))
    const timer = setTimeout(async () => {
      this.#reprobes.delete(node)
      if (node === this.#primary) {
        await this.#probePrimary()
        return
      }
      const [, reading] = await Promise.all([this.#probePrimary(), this.#read(node)])
      if (reading && !this.#stopped) this.#judgeReplica(node, reading)
    }, delay)
    timer.unref()
    this.#reprobes.set(node, timer)
  }
}
