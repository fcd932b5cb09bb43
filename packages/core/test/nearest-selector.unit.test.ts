/**
 * `balance: 'nearest'` as a rule over replica figures (zone, round trip, connections taken): which replica it
 * chooses and why. The same rule on a real cluster, with a delay proxy giving a replica its distance, is in
 * nearest.int.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { NearestSelector } from '../src/replicas/nearest-selector.js'
import type { RouterNode } from '../src/replicas/router-node.js'
import { fakeReplica, occupy, tally } from './helpers/fake-nodes.js'

/** Chooses `count` times, each choice holding a connection of the chosen replica (as a read in flight does). */
function fill(selector: NearestSelector, nodes: readonly RouterNode[], count: number): string[] {
  const chosen: string[] = []
  for (let i = 0; i < count; i++) {
    const node = selector.choose(nodes)!
    occupy(node, 1)
    chosen.push(`${node.name}:${selector.choice}`)
  }
  return chosen
}

describe('NearestSelector with zones', () => {
  it('sends reads to the replica of its zone while it has free connections, whatever the round trips say', () => {
    // The far zone's replica even measures nearer and is idle: the zone decides (billed cross-zone traffic).
    const here = fakeReplica('here', { zone: 'az1', rttMs: 1.5, inFlight: 5 })
    const there = fakeReplica('there', { zone: 'az2', rttMs: 0.2 })
    const selector = new NearestSelector('az1')
    expect(tally(() => selector.choose([there, here]), 100)).toEqual(new Map([['here', 100]]))
    expect(selector.choice).toBe('nearest')
  })

  it('spills over to another zone once every connection of the near replica is taken, and back when one frees', () => {
    const here = fakeReplica('here', { zone: 'az1', rttMs: 0.2, max: 3 })
    const there = fakeReplica('there', { zone: 'az2', rttMs: 1.5, max: 3 })
    const selector = new NearestSelector('az1')
    expect(fill(selector, [here, there], 7)).toEqual([
      'here:nearest',
      'here:nearest',
      'here:nearest',
      'there:spill-over',
      'there:spill-over',
      'there:spill-over',
      // Both saturated: it queues on the near one.
      'here:nearest',
    ])
    // One read on the far replica ends: it takes the next one again, before the near one frees.
    const [first] = there.running.snapshot()
    there.ended(first!, true)
    expect(selector.choose([here, there])).toBe(there)
    expect(selector.choice).toBe('spill-over')
    // A near connection frees (here has 4 taken of 3: two must end): near again.
    for (const running of here.running.snapshot().slice(0, 2)) here.ended(running, true)
    expect(selector.choose([here, there])).toBe(here)
    expect(selector.choice).toBe('nearest')
  })

  it('says `far` when no replica of its zone is a candidate', () => {
    const there = fakeReplica('there', { zone: 'az2', rttMs: 1.5 })
    const selector = new NearestSelector('az1')
    expect(selector.choose([there])).toBe(there)
    expect(selector.choice).toBe('far')
  })

  it('shares the reads between the replicas of its zone, the least busy first, in turns when equal', () => {
    const a = fakeReplica('a', { zone: 'az1', rttMs: 0.3 })
    const b = fakeReplica('b', { zone: 'az1', rttMs: 0.4 })
    const c = fakeReplica('c', { zone: 'az2', rttMs: 0.1 })
    const selector = new NearestSelector('az1')
    // Idle: in turns.
    const turns = Array.from({ length: 6 }, () => selector.choose([a, b, c])!.name).join('')
    expect(turns).toMatch(/^(ab){3}$|^(ba){3}$/)
    // Busy: the one with fewer connections taken.
    occupy(a, 2)
    expect(tally(() => selector.choose([a, b, c]), 10)).toEqual(new Map([['b', 10]]))
  })

  it('counts a heavier replica as less busy with the same connections taken', () => {
    const light = fakeReplica('light', { zone: 'az1', rttMs: 0.3 })
    const heavy = fakeReplica('heavy', { zone: 'az1', rttMs: 0.3, weight: 2 })
    const selector = new NearestSelector('az1')
    // Holding each chosen connection: the heavy one ends up with about twice the light one's.
    const chosen = fill(selector, [light, heavy], 12)
    expect(chosen.filter((c) => c.startsWith('heavy')).length).toBe(8)
  })

  it('judges a replica without a zone by its round trip, beside zoned ones', () => {
    const zoned = fakeReplica('zoned', { zone: 'az1', rttMs: 0.3, max: 1 })
    const unzonedNear = fakeReplica('unzoned-near', { rttMs: 0.4, max: 1 })
    const unzonedFar = fakeReplica('unzoned-far', { rttMs: 5 })
    const selector = new NearestSelector('az1')
    expect(
      fill(selector, [unzonedFar, zoned, unzonedNear], 3)
        .map((c) => c.split(':')[0])
        .sort(),
    ).toEqual(['unzoned-far', 'unzoned-near', 'zoned'])
  })
})

describe('NearestSelector by round trip (no zones)', () => {
  it('treats round trips within half of the nearest (or 0.5 ms of it) as near, and sends reads there', () => {
    const a = fakeReplica('a', { rttMs: 0.3 })
    const b = fakeReplica('b', { rttMs: 0.7 })
    const far = fakeReplica('far', { rttMs: 3.3 })
    const selector = new NearestSelector(undefined)
    const counts = tally(() => selector.choose([far, a, b]), 100)
    expect(counts).toEqual(
      new Map([
        ['a', 50],
        ['b', 50],
      ]),
    )
    // Without a router zone, the nodes' zones say nothing either.
    const zonedFar = fakeReplica('zoned-far', { zone: 'az1', rttMs: 3.3 })
    expect(tally(() => selector.choose([zonedFar, a]), 10)).toEqual(new Map([['a', 10]]))
  })

  it('scales the near tier with the nearest round trip: 2 ms and 2.9 ms are near, 3.1 ms is not', () => {
    const a = fakeReplica('a', { rttMs: 2 })
    const b = fakeReplica('b', { rttMs: 2.9 })
    const c = fakeReplica('c', { rttMs: 3.1 })
    const selector = new NearestSelector(undefined)
    expect([...tally(() => selector.choose([a, b, c]), 20).keys()].sort()).toEqual(['a', 'b'])
  })

  it('spills to the nearest far replica first, and to the farther one only when that one is full too', () => {
    const near = fakeReplica('near', { rttMs: 0.2, max: 2 })
    const mid = fakeReplica('mid', { rttMs: 3, max: 2 })
    const remote = fakeReplica('remote', { rttMs: 30, max: 2 })
    const selector = new NearestSelector(undefined)
    expect(fill(selector, [remote, mid, near], 7)).toEqual([
      'near:nearest',
      'near:nearest',
      'mid:spill-over',
      'mid:spill-over',
      'remote:spill-over',
      'remote:spill-over',
      'near:nearest',
    ])
  })

  it('counts the connections queued for a replica as taken', () => {
    const near = fakeReplica('near', { rttMs: 0.2, max: 2 })
    const far = fakeReplica('far', { rttMs: 3, max: 2 })
    occupy(near, 1)
    near.waiting.add({ slot: -1, deadline: 0, checkoutFailed: () => {} })
    const selector = new NearestSelector(undefined)
    expect(selector.choose([near, far])).toBe(far)
    expect(selector.choice).toBe('spill-over')
  })

  it('chooses among the candidates it is given only (read-your-writes gives those caught up)', () => {
    const far = fakeReplica('far', { rttMs: 3 })
    const selector = new NearestSelector(undefined)
    expect(selector.choose([far])).toBe(far)
    expect(selector.choice).toBe('nearest')
    expect(selector.choose([])).toBeUndefined()
  })
})
