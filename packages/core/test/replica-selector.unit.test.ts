import { describe, expect, it } from 'vitest'
import type { ReplicaInfo } from '../src/config/replica-info.js'
import { isConfigError } from '../src/errors.js'
import { createReplicaSelector } from '../src/replicas/replica-selector.js'
import type { RouterNode } from '../src/replicas/router-node.js'
import { fakeReplica, occupy, tally } from './helpers/fake-nodes.js'

describe('round-robin', () => {
  it('gives each replica exactly its weight share over whole cycles', () => {
    const nodes = [
      fakeReplica('a', { weight: 1 }),
      fakeReplica('b', { weight: 2 }),
      fakeReplica('c', { weight: 3 }),
    ]
    const select = createReplicaSelector('round-robin')
    const counts = tally(() => select(nodes), 6000)
    expect(Object.fromEntries(counts)).toEqual({ a: 1000, b: 2000, c: 3000 })
  })

  it('spreads picks out instead of sending a burst to the heaviest replica', () => {
    const nodes = [fakeReplica('a', { weight: 1 }), fakeReplica('b', { weight: 1 })]
    const select = createReplicaSelector('round-robin')
    const sequence = Array.from({ length: 8 }, () => select(nodes)?.name).join('')
    expect(sequence).toMatch(/^(ab){4}$|^(ba){4}$/)

    const weighted = [fakeReplica('x', { weight: 5 }), fakeReplica('y', { weight: 1 })]
    const selectWeighted = createReplicaSelector('round-robin')
    const cycle = Array.from({ length: 6 }, () => selectWeighted(weighted)?.name)
    // Smooth weighted round-robin puts the light replica in the middle of the cycle, not at an end.
    expect(cycle.filter((n) => n === 'y')).toHaveLength(1)
    expect(cycle[0]).toBe('x')
    expect(cycle[5]).toBe('x')
  })

  it('keeps fair shares when the candidate set changes between picks', () => {
    const a = fakeReplica('a')
    const b = fakeReplica('b')
    const c = fakeReplica('c')
    const select = createReplicaSelector('round-robin')
    const counts = new Map<string, number>()
    for (let i = 0; i < 3000; i++) {
      // c is only eligible a third of the time (e.g. it keeps drifting past the lag bound).
      const candidates = i % 3 === 0 ? [a, b, c] : [a, b]
      const name = select(candidates)!.name
      counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    expect(counts.get('a')! + counts.get('b')! + counts.get('c')!).toBe(3000)
    expect(Math.abs(counts.get('a')! - counts.get('b')!)).toBeLessThanOrEqual(2)
    expect(counts.get('c')).toBeGreaterThan(0)
  })

  it('returns the only candidate', () => {
    const only = fakeReplica('only', { weight: 7 })
    const select = createReplicaSelector('round-robin')
    expect(tally(() => select([only]), 10).get('only')).toBe(10)
  })
})

describe('least-lag', () => {
  it('picks the replica with the fewest bytes behind, whatever the seconds say', () => {
    const nodes = [
      fakeReplica('far', { lagBytes: 4096, lagSeconds: 0 }),
      fakeReplica('near', { lagBytes: 16, lagSeconds: 3 }),
      fakeReplica('mid', { lagBytes: 1024, lagSeconds: 0 }),
    ]
    const select = createReplicaSelector('least-lag')
    expect(tally(() => select(nodes), 100).get('near')).toBe(100)
  })

  it('breaks equal byte lag by seconds, then shares ties evenly', () => {
    const select = createReplicaSelector('least-lag')
    const bySeconds = [fakeReplica('slow', { lagSeconds: 2 }), fakeReplica('fast', { lagSeconds: 0.5 })]
    expect(select(bySeconds)?.name).toBe('fast')

    const tied = [fakeReplica('a'), fakeReplica('b'), fakeReplica('behind', { lagBytes: 1 })]
    expect(Object.fromEntries(tally(() => select(tied), 1000))).toEqual({ a: 500, b: 500 })
  })

  it('follows lag as it changes', () => {
    const a = fakeReplica('a', { lagBytes: 0 })
    const b = fakeReplica('b', { lagBytes: 100 })
    const select = createReplicaSelector('least-lag')
    expect(select([a, b])?.name).toBe('a')
    a.observe({ timeline: undefined, lsn: undefined, lagBytes: 1000 })
    expect(select([a, b])?.name).toBe('b')
  })
})

describe('least-busy', () => {
  it('picks the replica with the fewest statements in flight per unit of weight', () => {
    const select = createReplicaSelector('least-busy')
    const nodes = [
      fakeReplica('busy', { inFlight: 5 }),
      fakeReplica('idle', { inFlight: 1 }),
      fakeReplica('big', { inFlight: 4, weight: 2 }),
    ]
    expect(select(nodes)?.name).toBe('idle')
    occupy(nodes[1]!, 2) // idle: 3/1, big: 4/2 = 2
    expect(select(nodes)?.name).toBe('big')
  })

  it('shares ties evenly', () => {
    const select = createReplicaSelector('least-busy')
    const nodes = [fakeReplica('a', { inFlight: 2 }), fakeReplica('b', { inFlight: 2 })]
    expect(Object.fromEntries(tally(() => select(nodes), 100))).toEqual({ a: 50, b: 50 })
  })
})

describe('random', () => {
  it('picks in proportion to weight (chi-square test, 40 000 picks)', () => {
    const nodes = [
      fakeReplica('a', { weight: 1 }),
      fakeReplica('b', { weight: 2 }),
      fakeReplica('c', { weight: 5 }),
    ]
    const select = createReplicaSelector('random')
    const picks = 40_000
    const counts = tally(() => select(nodes), picks)
    const total = 8
    let chiSquare = 0
    for (const node of nodes) {
      const expected = (picks * node.weight) / total
      chiSquare += (counts.get(node.name)! - expected) ** 2 / expected
    }
    // 2 degrees of freedom: P(chi² > 18.4) ≈ 0.0001, so a correct implementation fails about once in 10 000 runs.
    expect(chiSquare).toBeLessThan(18.4)
  })

  it('is not round-robin in disguise', () => {
    const nodes = [fakeReplica('a'), fakeReplica('b')]
    const select = createReplicaSelector('random')
    const sequence = Array.from({ length: 200 }, () => select(nodes)?.name).join('')
    expect(sequence).toMatch(/aa|bb/)
  })
})

describe('custom function', () => {
  it('receives read-only snapshots of the candidates and its choice is used', () => {
    const nodes = [fakeReplica('a', { lagBytes: 10, inFlight: 1 }), fakeReplica('b', { weight: 3 })]
    let seen: readonly ReplicaInfo[] = []
    const select = createReplicaSelector((candidates) => {
      seen = candidates
      return candidates.find((c) => c.name === 'b')
    })
    expect(select(nodes)).toBe(nodes[1])
    expect(seen.map((c) => ({ ...c }))).toEqual([
      { name: 'a', weight: 1, lagBytes: 10, lagSeconds: 0, inFlight: 1, served: 0 },
      { name: 'b', weight: 3, lagBytes: 0, lagSeconds: 0, inFlight: 0, served: 0 },
    ])
    expect(Object.isFrozen(seen[0])).toBe(true)
    expect(JSON.stringify(seen)).not.toMatch(/password|connection/)
  })

  it('returning undefined means "use the fallback"', () => {
    const select = createReplicaSelector(() => undefined)
    expect(select([fakeReplica('a')])).toBeUndefined()
  })

  it('accepts a candidate it rebuilt itself (matched by name)', () => {
    const nodes = [fakeReplica('a'), fakeReplica('b')]
    const select = createReplicaSelector((candidates) => ({ ...candidates[1]! }))
    expect(select(nodes)).toBe(nodes[1])
  })

  it('returning something that is not a candidate throws a ConfigError naming `balance`', () => {
    const eligible = fakeReplica('eligible')
    const excluded = fakeReplica('excluded')
    const select = createReplicaSelector(() => excluded.info)
    let error: unknown
    try {
      select([eligible] as RouterNode[])
    } catch (caught) {
      error = caught
    }
    expect(isConfigError(error)).toBe(true)
    expect(error).toMatchObject({ option: 'balance', code: 'PGROUTE_INVALID_OPTION' })

    const junk = createReplicaSelector(() => 'a' as unknown as ReplicaInfo)
    expect(() => junk([eligible])).toThrow(/balance/)
  })
})
