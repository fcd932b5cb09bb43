import { describe, expect, it } from 'vitest'
import { formatLsn, lsnDistance, parseLsn } from '../src/health/lsn.js'

describe('parseLsn', () => {
  it('reads both hex halves of a PostgreSQL LSN', () => {
    expect(parseLsn('0/0')).toBe(0n)
    expect(parseLsn('0/3000060')).toBe(0x3000060n)
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n)
    expect(parseLsn('16/b374d848')).toBe(parseLsn('16/B374D848'))
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n)
  })

  it('keeps precision beyond 2^53 bytes', () => {
    const a = parseLsn('200000/1')!
    const b = parseLsn('200000/2')!
    expect(b - a).toBe(1n)
  })

  it('rejects anything that is not an LSN', () => {
    for (const text of [
      '',
      '0',
      '/0',
      '0/',
      '1/2/3',
      'G/0',
      '0x1/0',
      ' 0/1',
      '0/1 ',
      '123456789/0',
      '-1/0',
      '0/1.5',
    ]) {
      expect(parseLsn(text), text).toBeUndefined()
    }
  })
})

describe('formatLsn', () => {
  it('prints like PostgreSQL: upper-case hex, no leading zeros', () => {
    expect(formatLsn(0n)).toBe('0/0')
    expect(formatLsn(0x3000060n)).toBe('0/3000060')
    expect(formatLsn((0x16n << 32n) | 0xb374d848n)).toBe('16/B374D848')
    expect(formatLsn(1n << 32n)).toBe('1/0')
  })

  it('round-trips through parseLsn', () => {
    for (const text of ['0/0', '0/1', '1/0', 'A/FFFFFFFF', 'FFFFFFFF/FFFFFFFF', '16/B374D848']) {
      expect(formatLsn(parseLsn(text)!)).toBe(text)
    }
    for (const value of [0n, 1n, 0xffffffffn, 0x100000000n, 123456789012345n]) {
      expect(parseLsn(formatLsn(value))).toBe(value)
    }
  })
})

describe('lsnDistance', () => {
  it('counts bytes from the first position to the second', () => {
    expect(lsnDistance(parseLsn('0/3000000')!, parseLsn('0/3000060')!)).toBe(0x60)
    // Across the 4 GiB boundary of the low half.
    expect(lsnDistance(parseLsn('0/FFFFFFF0')!, parseLsn('1/10')!)).toBe(0x20)
  })

  it('is never negative (a probe read first may be older than the other)', () => {
    expect(lsnDistance(parseLsn('0/3000060')!, parseLsn('0/3000000')!)).toBe(0)
    expect(lsnDistance(5n, 5n)).toBe(0)
  })
})
