import { PgRouteError } from '../errors.js'
import type { CommitTicket } from '../health/connection-watch.js'
import { formatLsn, parseLsn, type WalPosition } from '../health/lsn.js'
import type { RouterNode } from '../replicas/router-node.js'

/**
 * What a session's writes were committed with, as far as the router can tell (see `commitTicket`): every one with
 * `synchronous_commit = remote_apply` fixed on its connection (`apply`), some following the server's configuration
 * (`config`: the configuration must say `remote_apply`), or not known for at least one (`unknown`).
 */
export type SessionCommits = 'apply' | 'config' | 'unknown'

/** The writes of a session, for the synchronous-standby rule (`sync-replication.ts`). */
export interface SessionWrites {
  /** When the first of them was started (`performance.now()`). */
  readonly since: number
  /** When the last of them completed (`performance.now()`). */
  readonly until: number
  readonly commits: SessionCommits
}

/**
 * The position a session must see after learning of `b`, when it had to see `a`. On one timeline, the later
 * one. Across timelines, the newer timeline's: a position of the newer timeline was taken later, and covers what
 * the old timeline had committed before it (or lost it in the failover, which no replica can give back). A
 * position whose timeline is unknown cannot be compared: it wins, and reads then go to the primary.
 */
function combine(a: WalPosition | undefined, b: WalPosition): WalPosition {
  if (a === undefined) return b
  if (a.timeline === b.timeline) return b.lsn > a.lsn ? b : a
  if (a.timeline === undefined) return a
  if (b.timeline === undefined) return b
  return b.timeline > a.timeline ? b : a
}

/**
 * Where one write of a session landed: the node it ran on, and two positions of that node's WAL around it. The
 * commit record of the write lies between them: `lower` was known before the write was sent, `upper` is read right
 * after it completed. After a failover they tell whether the write is on the new timeline (`upper` at or before
 * the switch point), lost (`lower` at or past it), or completed within one round trip of it (unknown).
 */
export interface SessionWrite {
  readonly node: RouterNode
  /** The node's timeline when the write completed (as the probes saw it). */
  readonly timeline: number | undefined
  /** A WAL position of the node read before the write was sent (`undefined` when none was known). */
  readonly lower: bigint | undefined
  /** The node's WAL insert position (and timeline) read right after the write completed; `undefined` on failure. */
  readonly upper: Promise<WalPosition | undefined>
}

/**
 * What settling a session's writes gives: the position its reads must see from now on, and the error its caller
 * gets when some of them were lost in a failover (`PGROUTE_WRITES_LOST`).
 */
export interface Settled {
  readonly floor: WalPosition | undefined
  readonly lost?: Error
}

/** Settles a session's floor and the writes it made since, as `ReadYourWrites` does. */
export type Settle = (writes: readonly SessionWrite[], floor: WalPosition | undefined) => Promise<Settled>

/** No writes to settle. */
const NO_WRITES: readonly SessionWrite[] = Object.freeze([])

/**
 * The read-your-writes state of one `router.session()` scope: the WAL position (on its timeline) its reads must
 * see, and where its writes landed since that position was last settled.
 *
 * Each write records its node and the positions around it ({@link SessionWrite}); the position after it is fetched
 * at once, off the caller's path, on the router's own connection to that node (shared by every session: a burst of
 * writes costs one round trip), so that where the write landed is known even if the node dies the next moment. A
 * later read (or `token()`) settles them: see `ReadYourWrites`.
 */
export class CausalSession {
  /** WAL position every read of this session must see (settled from its writes, or a token's once verified). */
  #floor: WalPosition | undefined
  /**
   * A position carried in by a token and not verified yet. Tokens are untrusted input: one ahead of the primary
   * would pin every read of the session to the primary, so it is clamped to the primary's position first.
   */
  #claim: WalPosition | undefined
  /** Bumped on every write; a settle only covers the writes made before it started. */
  #writes = 0
  #settledWrites = 0
  /** Writes not settled yet: the latest one per node and timeline (a later write there covers an earlier one). */
  #pending: SessionWrite[] | undefined
  #settling: Promise<WalPosition | undefined> | undefined
  /** Writes the settle in flight covers: a write completed after it started needs another one. */
  #settlingWrites = 0
  /** Writes whose position after them is still being read. */
  #unplaced = 0
  /** When the session's first write started, and its last one completed (`performance.now()`). */
  #since: number | undefined
  #until = 0
  #commits: SessionCommits = 'apply'
  /** Every read of the session goes to the primary (`session(fn, { readOnPrimary: true })`). */
  readOnPrimary = false

  /** `claim`: the position of the token the session continues from (verified before any read uses it). */
  constructor(claim?: WalPosition) {
    this.#claim = claim
    // Writes of another scope, made who knows how: nothing is known of their commits.
    if (claim !== undefined) this.#commits = 'unknown'
  }

  /**
   * The session's writes, for reading them on a synchronous standby without waiting for its replay position:
   * `undefined` before any, or when a token brought in writes of another scope.
   */
  get writes(): SessionWrites | undefined {
    const since = this.#since
    return since === undefined || this.#writes === 0
      ? undefined
      : { since, until: this.#until, commits: this.#commits }
  }

  /** A token's position not verified yet, if any. */
  get claim(): WalPosition | undefined {
    return this.#claim
  }

  /** The position the session's reads must see as settled so far (its writes since then are {@link dirty}). */
  get floor(): WalPosition | undefined {
    return this.#floor
  }

  /**
   * Settles `claim` as `settled`: what it asks for once verified (the claim itself, the same position on the
   * current timeline, or what it was clamped to), or `undefined` when it asks for nothing a replica lacks (`0/0`).
   * The floor only rises (see {@link combine}).
   */
  settleClaim(claim: WalPosition, settled: WalPosition | undefined): void {
    if (settled !== undefined) this.#floor = combine(this.#floor, settled)
    if (this.#claim === claim) this.#claim = undefined
  }

  /** A statement that may write starts on its way to the primary. */
  writing(): void {
    this.#since ??= performance.now()
  }

  /**
   * Records a statement that ran on the primary and may have written, where it landed, and what its connection
   * says of its commit (`ticket`; `undefined`: nothing is known, as after a failure), completed at `completedAt`
   * (`performance.now()`).
   */
  markWrite(write: SessionWrite, ticket?: CommitTicket, completedAt = performance.now()): void {
    this.#writes++
    this.#until = completedAt
    // A write whose start was not seen (it began outside the request path) cannot be placed in time.
    this.#since ??= Number.NEGATIVE_INFINITY
    const commits: SessionCommits =
      ticket === 'config' ? 'config' : ticket?.fixed === 'remote_apply' ? 'apply' : 'unknown'
    if (commits === 'unknown' || this.#commits === 'unknown') this.#commits = 'unknown'
    else if (commits === 'config') this.#commits = 'config'
    this.#unplaced++
    const placed = () => {
      this.#unplaced--
    }
    void write.upper.then(placed, placed)
    this.#pending ??= []
    const pending = this.#pending
    const same = pending.findIndex((each) => each.node === write.node && each.timeline === write.timeline)
    if (same === -1) pending.push(write)
    else pending[same] = write
  }

  /**
   * Whether the position after one of the session's writes is still being read (a settle now waits for the
   * round trip of that lookup to the write's node).
   */
  get placing(): boolean {
    return this.#unplaced > 0
  }

  /**
   * Whether the session has nothing to see: no token's position (verified or not), no settled floor, no write
   * whose position is not settled yet. Its reads then need nothing of a replica, and it has no token.
   */
  get empty(): boolean {
    return this.#claim === undefined && this.#floor === undefined && this.#writes === this.#settledWrites
  }

  /** Whether the session has a write whose position has not been settled yet. */
  get dirty(): boolean {
    return this.#writes !== this.#settledWrites
  }

  /**
   * Settles the session's floor and its writes with `settle`, and resolves to the position reads must see from then
   * on (what `settle` returns replaces the floor: it is given the floor, and covers it). Concurrent callers share
   * one settle, but only one that started after every write they must see; settles run one after the other, each
   * from the floor the one before left. When some writes were lost (`PGROUTE_WRITES_LOST`), the writes it covered
   * are settled all the same (the session is told once); on any other failure they stay pending.
   */
  settle(settle: Settle): Promise<WalPosition | undefined> {
    if (this.#settling && this.#settlingWrites === this.#writes) return this.#settling
    const writes = this.#writes
    const taken = this.#pending ?? NO_WRITES
    this.#pending = undefined
    const run = () =>
      settle(taken, this.#floor).then(
        ({ floor, lost }) => {
          this.#floor = floor
          if (this.#settledWrites < writes) this.#settledWrites = writes
          if (lost !== undefined) throw lost
          return floor
        },
        (error: unknown) => {
          // No position could be had (the primary unreachable): the writes stay pending for the next call.
          if (taken.length > 0) this.#pending = [...taken, ...(this.#pending ?? NO_WRITES)]
          throw error
        },
      )
    const before = this.#settling
    const settling = (before === undefined ? run() : before.then(run, run)).finally(() => {
      if (this.#settling === settling) this.#settling = undefined
    })
    this.#settling = settling
    this.#settlingWrites = writes
    return settling
  }

  /** Records a position carried in by a token (a claim, verified before a read relies on it). */
  observe(position: WalPosition): void {
    this.#claim = combine(this.#claim, position)
    this.#commits = 'unknown'
  }
}

/** `0/16B3748` (a token without a timeline, accepted as of unknown timeline) or `0/16B3748@2`. */
const TOKEN_PATTERN = /^([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:@([1-9][0-9]{0,9}))?$/
const MAX_TIMELINE = 0xffffffff

function readToken(token: unknown): WalPosition | undefined {
  if (typeof token !== 'string') return undefined
  const match = TOKEN_PATTERN.exec(token.trim())
  if (!match) return undefined
  const timeline = match[2] === undefined ? undefined : Number(match[2])
  if (timeline !== undefined && timeline > MAX_TIMELINE) return undefined
  return { lsn: parseLsn(match[1]!)!, timeline }
}

/** Formats a WAL position as a causal token: `LSN@timeline` (`0/16B3748@2`), or the bare LSN when unknown. */
export function formatToken(position: WalPosition): string {
  const lsn = formatLsn(position.lsn)
  return position.timeline === undefined ? lsn : `${lsn}@${position.timeline}`
}

/** Parses a causal token, throwing `PgRouteError` (`PGROUTE_INVALID_TOKEN`) on anything else. */
export function parseToken(token: string): WalPosition {
  if (typeof token !== 'string') {
    const kind = token === null ? 'null' : Array.isArray(token) ? 'an array' : typeof token
    throw new PgRouteError(
      'PGROUTE_INVALID_TOKEN',
      `Invalid pgroute token: expected a string like '0/16B3748@1', got ${kind}`,
    )
  }
  const position = readToken(token)
  if (position === undefined) {
    throw new PgRouteError(
      'PGROUTE_INVALID_TOKEN',
      `Invalid pgroute token ${JSON.stringify(token.slice(0, 40))}: expected a WAL position like '0/16B3748@1'`,
    )
  }
  return position
}

/** Whether `token` is a well-formed causal token (for validating untrusted input such as a cookie). */
export function isToken(token: unknown): token is string {
  return readToken(token) !== undefined
}
