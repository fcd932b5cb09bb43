import { describe, expect, it } from 'vitest'
import { isPgRouteError } from '../src/errors.js'
import { CausalSession, formatToken, isToken, parseToken } from '../src/session/causal-session.js'

describe('tokens', () => {
  it('formats a WAL position and parses it back', () => {
    const token = formatToken(0x16b3748n)
    expect(token).toBe('0/16B3748')
    expect(parseToken(token)).toBe(0x16b3748n)
    expect(parseToken('  0/16B3748\n')).toBe(0x16b3748n)
  })

  it('isToken accepts LSNs and nothing else', () => {
    expect(isToken('0/16B3748')).toBe(true)
    expect(isToken('AB/0')).toBe(true)
    for (const value of ['', 'abc', '0/', '0/16B3748; DROP TABLE x', 42, null, undefined, {}, ['0/1']]) {
      expect(isToken(value), String(value)).toBe(false)
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
  })
})

describe('CausalSession', () => {
  it('needs nothing until something is written', () => {
    const session = new CausalSession()
    expect(session.dirty).toBe(false)
    expect(session.required(() => Promise.reject(new Error('must not fetch')))).toBeUndefined()
  })

  it('holds a token as a claim until it is verified, then takes the lower of claim and limit', () => {
    const session = new CausalSession(100n)
    expect(session.claim).toBe(100n)
    expect(session.required(() => Promise.reject(new Error('must not fetch')))).toBeUndefined()
    session.settleClaim(100n, 5000n)
    expect(session.claim).toBeUndefined()
    expect(session.required(() => Promise.reject(new Error('must not fetch')))).toBe(100n)
    session.observe(0xffffffffffffffffn)
    session.settleClaim(0xffffffffffffffffn, 300n) // a forged token: clamped to what the primary reached
    expect(session.required(() => Promise.reject(new Error('must not fetch')))).toBe(300n)
    session.observe(50n)
    session.settleClaim(50n, 5000n) // never lowers the floor
    expect(session.required(() => Promise.reject(new Error('must not fetch')))).toBe(300n)
  })

  it('rejects tokens that are not strings with PGROUTE_INVALID_TOKEN', () => {
    for (const token of [Object.create(null), 42, {}, null, ['0/1'], Symbol('t')]) {
      expect(() => parseToken(token as string)).toThrow(
        expect.objectContaining({ code: 'PGROUTE_INVALID_TOKEN' }),
      )
    }
  })

  it('fetches the primary position once per burst of writes', async () => {
    const session = new CausalSession()
    let fetches = 0
    const fetch = async () => {
      fetches++
      return 1000n * BigInt(fetches)
    }
    session.markWrite()
    session.markWrite()
    expect(session.dirty).toBe(true)
    const [a, b] = await Promise.all([session.required(fetch), session.required(fetch)])
    expect([a, b, fetches]).toEqual([1000n, 1000n, 1])
    expect(session.dirty).toBe(false)
    expect(await session.required(fetch)).toBe(1000n)
    expect(fetches).toBe(1)
  })

  it('never lowers the floor', async () => {
    const session = new CausalSession(5000n)
    session.settleClaim(5000n, 6000n)
    session.markWrite()
    expect(await session.required(async () => 10n)).toBe(5000n)
  })

  it('a write completed while a fetch is in flight is not covered by that fetch', async () => {
    const session = new CausalSession()
    let release!: (lsn: bigint) => void
    const slow = () => new Promise<bigint>((resolve) => (release = resolve))
    session.markWrite()
    const first = session.required(slow) // fetch started: covers the first write only
    session.markWrite() // a second write completes before the fetch answers
    let secondFetches = 0
    const second = session.required(async () => {
      secondFetches++
      return 2000n
    })
    release(1000n)
    expect(await first).toBeGreaterThanOrEqual(1000n)
    // The read after the second write must wait for a position fetched after that write.
    expect(await second).toBe(2000n)
    expect(secondFetches).toBe(1)
    expect(session.dirty).toBe(false)
  })

  it('stays dirty when the fetch fails, so the next read tries again', async () => {
    const session = new CausalSession()
    session.markWrite()
    await expect(session.required(() => Promise.reject(new Error('primary gone')))).rejects.toThrow(
      'primary gone',
    )
    expect(session.dirty).toBe(true)
    expect(await session.required(async () => 7n)).toBe(7n)
  })
})
