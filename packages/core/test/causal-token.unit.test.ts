import { describe, expect, it } from 'vitest'
import { isPgRouteError } from '../src/errors.js'
import type { WalPosition } from '../src/health/lsn.js'
import type { RouterNode } from '../src/replicas/router-node.js'
import {
  CausalSession,
  formatToken,
  isToken,
  parseToken,
  type SessionWrite,
  type Settle,
} from '../src/session/causal-session.js'

/** A position on timeline 1 unless told. */
function at(lsn: bigint, timeline = 1): WalPosition {
  return { lsn, timeline }
}

/** A position of an unknown timeline (a token of the format without one). */
function unknown(lsn: bigint): WalPosition {
  return { lsn, timeline: undefined }
}

/** A write on one node whose position after it is `upper` (fetched at once, as the router does). */
function write(upper: Promise<WalPosition | undefined> = Promise.resolve(undefined)): SessionWrite {
  return { node: {} as RouterNode, timeline: 1, lower: undefined, upper }
}

/**
 * Settles as the router does on one timeline: the floor, raised to the position `fetch` gives after the writes
 * (the router reads it on the node the writes ran on).
 */
function settleWith(fetch: () => Promise<WalPosition>): Settle {
  return async (writes, floor) => {
    if (writes.length === 0) return { floor }
    const position = await fetch()
    const raised = floor === undefined || floor.timeline !== position.timeline || position.lsn > floor.lsn
    return { floor: raised ? position : floor }
  }
}

describe('tokens', () => {
  it('formats a WAL position with its timeline and parses it back', () => {
    const token = formatToken(at(0x16b3748n, 2))
    expect(token).toBe('0/16B3748@2')
    expect(parseToken(token)).toEqual(at(0x16b3748n, 2))
    expect(parseToken('  0/16B3748@2\n')).toEqual(at(0x16b3748n, 2))
  })

  it('accepts the format without a timeline, as of an unknown timeline', () => {
    expect(parseToken('0/16B3748')).toEqual(unknown(0x16b3748n))
    expect(formatToken(unknown(0x16b3748n))).toBe('0/16B3748')
  })

  it('isToken accepts LSNs with or without a timeline and nothing else', () => {
    expect(isToken('0/16B3748')).toBe(true)
    expect(isToken('AB/0@7')).toBe(true)
    for (const value of [
      '',
      'abc',
      '0/',
      '0/1@0',
      '0/1@',
      '0/1@x',
      '0/1@99999999999',
      '0/16B3748; DROP TABLE x',
      42,
      null,
      undefined,
      {},
      ['0/1'],
      Object.create(null),
    ]) {
      expect(isToken(value), String(typeof value)).toBe(false)
    }
  })

  it('parseToken throws PGROUTE_INVALID_TOKEN, quoting at most 40 characters of the input', () => {
    const long = `x${'y'.repeat(100)}`
    let error: unknown
    try {
      parseToken(long)
    } catch (caught) {
      error = caught
    }
    expect(isPgRouteError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_INVALID_TOKEN' })
    expect((error as Error).message).not.toContain('y'.repeat(41))
    expect(() => parseToken(42 as unknown as string)).toThrow(/Invalid pgroute token/)
    expect(() => parseToken(Object.create(null))).toThrow(/Invalid pgroute token/)
  })
})

describe('CausalSession', () => {
  it('needs nothing until something is written', () => {
    const session = new CausalSession()
    expect(session.dirty).toBe(false)
    expect(session.floor).toBeUndefined()
  })

  it('holds a token as a claim until it is verified; settled claims raise the floor on one timeline only', () => {
    const session = new CausalSession(at(100n))
    expect(session.claim).toEqual(at(100n))
    expect(session.floor).toBeUndefined()
    session.settleClaim(session.claim!, at(100n))
    expect(session.claim).toBeUndefined()
    expect(session.floor).toEqual(at(100n))
    session.observe(at(0xffffffffffffffffn))
    session.settleClaim(session.claim!, at(300n)) // a forged token: clamped to what the primary reached
    expect(session.claim).toBeUndefined()
    expect(session.floor).toEqual(at(300n))
    session.observe(at(50n))
    session.settleClaim(session.claim!, at(50n)) // never lowers the floor
    expect(session.floor).toEqual(at(300n))
  })

  it('a newer timeline wins whatever its position; an unknown timeline wins (it cannot be compared)', () => {
    const session = new CausalSession()
    session.settleClaim(at(5000n, 1), at(5000n, 1))
    session.settleClaim(at(10n, 2), at(10n, 2))
    expect(session.floor).toEqual(at(10n, 2))
    session.settleClaim(at(9000n, 1), at(9000n, 1))
    expect(session.floor).toEqual(at(10n, 2))
    session.settleClaim(unknown(1n), unknown(1n))
    expect(session.floor).toEqual(unknown(1n))
  })

  it('claims carried in by several tokens combine like floors', () => {
    const session = new CausalSession(at(5000n, 1))
    session.observe(at(10n, 2))
    expect(session.claim).toEqual(at(10n, 2))
    session.observe(at(9000n, 1))
    expect(session.claim).toEqual(at(10n, 2))
  })

  it('rejects tokens that are not strings with PGROUTE_INVALID_TOKEN', () => {
    for (const token of [Object.create(null), 42, {}, null, ['0/1'], Symbol('t')]) {
      expect(() => parseToken(token as string)).toThrow(
        expect.objectContaining({ code: 'PGROUTE_INVALID_TOKEN' }),
      )
    }
  })

  it('settles once per burst of writes', async () => {
    const session = new CausalSession()
    let fetches = 0
    const fetch = async () => {
      fetches++
      return at(1000n * BigInt(fetches))
    }
    session.markWrite(write())
    session.markWrite(write())
    expect(session.dirty).toBe(true)
    const settle = settleWith(fetch)
    const [a, b] = await Promise.all([session.settle(settle), session.settle(settle)])
    expect([a, b, fetches]).toEqual([at(1000n), at(1000n), 1])
    expect(session.dirty).toBe(false)
    expect(session.floor).toEqual(at(1000n))
    expect(fetches).toBe(1)
  })

  it('never lowers the floor on one timeline', async () => {
    const session = new CausalSession()
    session.settleClaim(at(5000n), at(5000n))
    session.markWrite(write())
    expect(await session.settle(settleWith(async () => at(10n)))).toEqual(at(5000n))
  })

  it("takes the primary's position after a write when the floor is on another or an unknown timeline", async () => {
    const session = new CausalSession()
    session.settleClaim(unknown(5000n), unknown(5000n))
    session.markWrite(write())
    expect(await session.settle(settleWith(async () => at(10n, 2)))).toEqual(at(10n, 2))
  })

  it('a write completed while a settle is in flight is not covered by that settle; settles run in order', async () => {
    const session = new CausalSession()
    let release!: (position: WalPosition) => void
    const slow = () => new Promise<WalPosition>((resolve) => (release = resolve))
    session.markWrite(write())
    const first = session.settle(settleWith(slow)) // fetch started: covers the first write only
    session.markWrite(write()) // a second write completes before the fetch answers
    let secondFetches = 0
    const second = session.settle(
      settleWith(async () => {
        secondFetches++
        return at(2000n)
      }),
    )
    release(at(1000n))
    expect((await first)!.lsn).toBeGreaterThanOrEqual(1000n)
    // The read after the second write must wait for a position fetched after that write.
    expect(await second).toEqual(at(2000n))
    expect(secondFetches).toBe(1)
    expect(session.dirty).toBe(false)
  })

  it('a settle that finds writes lost settles them all the same: the session is told once', async () => {
    const session = new CausalSession()
    session.markWrite(write())
    const lost = new Error('lost')
    await expect(session.settle(async () => ({ floor: at(5n, 2), lost }))).rejects.toBe(lost)
    expect(session.dirty).toBe(false)
    expect(session.floor).toEqual(at(5n, 2))
  })

  it('stays dirty when the settle fails, so the next read tries again', async () => {
    const session = new CausalSession()
    session.markWrite(write())
    await expect(session.settle(settleWith(() => Promise.reject(new Error('primary gone'))))).rejects.toThrow(
      'primary gone',
    )
    expect(session.dirty).toBe(true)
    expect(await session.settle(settleWith(async () => at(7n)))).toEqual(at(7n))
  })
})
