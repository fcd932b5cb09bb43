import { PgRouteError } from '../errors.js'
import { formatLsn, parseLsn } from '../health/lsn.js'

/**
 * The read-your-writes state of one `router.session()` scope: the WAL position its reads must see.
 *
 * A write only marks the session dirty; the primary's WAL insert position is fetched lazily, when a later read
 * (or `token()`) needs it, so a burst of writes costs one round trip, not one per write.
 */
export class CausalSession {
  /** WAL position every read of this session must see (the last one fetched, or a token's once verified). */
  #floor: bigint | undefined
  /**
   * A position carried in by a token and not verified yet. Tokens are untrusted input: one ahead of the primary
   * would pin every read of the session to the primary, so it is clamped to the primary's position first.
   */
  #claim: bigint | undefined
  /** Bumped on every write; a fetch only settles the writes made before it started. */
  #writes = 0
  #settledWrites = 0
  #fetching: Promise<bigint | undefined> | undefined
  /** Writes the in-flight fetch covers: a write completed after it started needs a newer position. */
  #fetchingWrites = 0

  /** `claim`: the position of the token the session continues from (verified before any read uses it). */
  constructor(claim?: bigint) {
    this.#claim = claim
  }

  /** A token's position not verified yet, if any. */
  get claim(): bigint | undefined {
    return this.#claim
  }

  /** Verifies `claim` against `limit` (a position the primary is known to have reached): the floor takes the lower. */
  settleClaim(claim: bigint, limit: bigint): void {
    const lsn = claim < limit ? claim : limit
    if (this.#floor === undefined || lsn > this.#floor) this.#floor = lsn
    if (this.#claim === claim) this.#claim = undefined
  }

  /** Records that a statement ran on the primary and may have written. */
  markWrite(): void {
    this.#writes++
  }

  /** Whether the session has a write whose WAL position has not been fetched yet. */
  get dirty(): boolean {
    return this.#writes !== this.#settledWrites
  }

  /**
   * The WAL position reads must see, fetching the primary's insert position if a write happened since the last
   * fetch. `undefined`: the session has no writes to see.
   */
  required(fetchPrimaryLsn: () => Promise<bigint>): Promise<bigint | undefined> | bigint | undefined {
    if (!this.dirty) return this.#floor
    // Concurrent reads share a fetch, but only one that started after every write they must see.
    if (this.#fetching && this.#fetchingWrites === this.#writes) return this.#fetching
    const writes = this.#writes
    const fetching = fetchPrimaryLsn()
      .then((lsn) => {
        // Fetched after `writes` writes completed, so it covers them all (later ones keep the session dirty).
        if (this.#floor === undefined || lsn > this.#floor) this.#floor = lsn
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
  observe(lsn: bigint): void {
    if (this.#claim === undefined || lsn > this.#claim) this.#claim = lsn
  }
}

/** Formats a WAL position as a causal token. */
export function formatToken(lsn: bigint): string {
  return formatLsn(lsn)
}

/** Parses a causal token, throwing `PgRouteError` (`PGROUTE_INVALID_TOKEN`) on anything else. */
export function parseToken(token: string): bigint {
  if (typeof token !== 'string') {
    const kind = token === null ? 'null' : Array.isArray(token) ? 'an array' : typeof token
    throw new PgRouteError(
      'PGROUTE_INVALID_TOKEN',
      `Invalid pgroute token: expected a string like '0/16B3748', got ${kind}`,
    )
  }
  const lsn = parseLsn(token.trim())
  if (lsn === undefined) {
    throw new PgRouteError(
      'PGROUTE_INVALID_TOKEN',
      `Invalid pgroute token ${JSON.stringify(token.slice(0, 40))}: expected a WAL position like '0/16B3748'`,
    )
  }
  return lsn
}

/** Whether `token` is a well-formed causal token (for validating untrusted input such as a cookie). */
export function isToken(token: unknown): token is string {
  return typeof token === 'string' && parseLsn(token.trim()) !== undefined
}
