import { PgRouteError } from '../errors.js'
import type { CommitTicket } from '../health/connection-watch.js'
import { formatLsn, parseLsn, type WalPosition } from '../health/lsn.js'

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
 * The read-your-writes state of one `router.session()` scope: the WAL position (on its timeline) its reads must
 * see.
 *
 * A write only marks the session dirty; the primary's WAL insert position is fetched lazily, when a later read
 * (or `token()`) needs it, so a burst of writes costs one round trip, not one per write.
 */
export class CausalSession {
  /** WAL position every read of this session must see (the last one fetched, or a token's once verified). */
  #floor: WalPosition | undefined
  /**
   * A position carried in by a token and not verified yet. Tokens are untrusted input: one ahead of the primary
   * would pin every read of the session to the primary, so it is clamped to the primary's position first.
   */
  #claim: WalPosition | undefined
  /** Bumped on every write; a fetch only settles the writes made before it started. */
  #writes = 0
  #settledWrites = 0
  #fetching: Promise<WalPosition | undefined> | undefined
  /** Writes the in-flight fetch covers: a write completed after it started needs a newer position. */
  #fetchingWrites = 0
  /** When the session's first write started, and its last one completed (`performance.now()`). */
  #since: number | undefined
  #until = 0
  #commits: SessionCommits = 'apply'

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
   * Records that a statement ran on the primary and may have written, with what its connection says of its commit
   * (`undefined`: nothing is known, as after a failure).
   */
  markWrite(ticket?: CommitTicket): void {
    this.#writes++
    this.#until = performance.now()
    // A write whose start was not seen (it began outside the request path) cannot be placed in time.
    this.#since ??= Number.NEGATIVE_INFINITY
    const commits: SessionCommits =
      ticket === 'config' ? 'config' : ticket?.fixed === 'remote_apply' ? 'apply' : 'unknown'
    if (commits === 'unknown' || this.#commits === 'unknown') this.#commits = 'unknown'
    else if (commits === 'config') this.#commits = 'config'
  }

  /** Whether the session has a write whose WAL position has not been fetched yet. */
  get dirty(): boolean {
    return this.#writes !== this.#settledWrites
  }

  /**
   * The WAL position reads must see, fetching the primary's insert position if a write happened since the last
   * fetch. `undefined`: the session has no writes to see.
   */
  required(
    fetchPrimaryPosition: () => Promise<WalPosition>,
  ): Promise<WalPosition | undefined> | WalPosition | undefined {
    if (!this.dirty) return this.#floor
    // Concurrent reads share a fetch, but only one that started after every write they must see.
    if (this.#fetching && this.#fetchingWrites === this.#writes) return this.#fetching
    const writes = this.#writes
    const fetching = fetchPrimaryPosition()
      .then((position) => {
        // Fetched after `writes` writes completed, so it covers them all (later ones keep the session dirty).
        // The primary's own position covers everything committed before it, whatever the floor's timeline.
        const floor = this.#floor
        this.#floor =
          floor !== undefined && floor.timeline === position.timeline && floor.lsn > position.lsn
            ? floor
            : position
        if (this.#settledWrites < writes) this.#settledWrites = writes
        return this.#floor
      })
      .finally(() => {
        if (this.#fetching === fetching) this.#fetching = undefined
      })
    this.#fetching = fetching
    this.#fetchingWrites = writes
    return fetching
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
