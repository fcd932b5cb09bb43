import { describe, expect, it } from 'vitest'
import { WalHistory } from '../src/health/wal-history.js'

describe('WalHistory', () => {
  it('tells when the primary was first seen past a replay position', () => {
    const history = new WalHistory()
    history.record(100n, 1000)
    history.record(100n, 2000) // unchanged: still first seen at 1000
    history.record(250n, 3000)
    history.record(400n, 4000)
    expect(history.size).toBe(3)
    expect(history.firstSeenPast(100n)).toBe(3000)
    expect(history.firstSeenPast(249n)).toBe(3000)
    expect(history.firstSeenPast(250n)).toBe(4000)
  })

  it('cannot tell for a position the primary was already past at the first probe, or has not passed', () => {
    const history = new WalHistory()
    expect(history.firstSeenPast(0n)).toBeUndefined()
    history.record(100n, 1000)
    history.record(200n, 2000)
    expect(history.firstSeenPast(50n)).toBeUndefined()
    expect(history.firstSeenPast(200n)).toBeUndefined()
    expect(history.firstSeenPast(500n)).toBeUndefined()
  })

  it('forgets positions every replica has replayed, keeping one anchor', () => {
    const history = new WalHistory()
    for (let i = 1n; i <= 10n; i++) history.record(i * 10n, Number(i))
    history.forgetUpTo(55n)
    expect(history.size).toBe(6) // 50 (anchor), 60 … 100
    expect(history.firstSeenPast(55n)).toBe(6)
    expect(history.firstSeenPast(45n)).toBeUndefined()
    history.forgetUpTo(1000n)
    expect(history.size).toBe(1)
  })

  it('starts over when the primary moves backwards (a different server)', () => {
    const history = new WalHistory()
    history.record(500n, 1)
    history.record(600n, 2)
    history.record(10n, 3)
    expect(history.size).toBe(1)
    history.record(20n, 4)
    expect(history.firstSeenPast(10n)).toBe(4)
  })

  it('keeps a bounded number of positions', () => {
    const history = new WalHistory()
    for (let i = 1; i <= 10_000; i++) history.record(BigInt(i), i)
    expect(history.size).toBe(4096)
    expect(history.firstSeenPast(9000n)).toBe(9001)
  })
})
