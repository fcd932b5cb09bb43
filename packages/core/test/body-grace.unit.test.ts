import { describe, expect, it } from 'vitest'
import { bodyGraceMs } from '../src/core/statement-canceller.js'

describe('bodyGraceMs', () => {
  it('outlasts the re-probe that may clear a suspicion, whatever healthCheck.timeoutMs is', () => {
    expect(bodyGraceMs(500)).toBe(800)
    // A probe allowed 2 s starts 100 ms after the failure and may answer at 2.1 s: bodies wait past that.
    expect(bodyGraceMs(2000)).toBeGreaterThan(2100)
    expect(bodyGraceMs(900)).toBeGreaterThan(1000)
  })
})
