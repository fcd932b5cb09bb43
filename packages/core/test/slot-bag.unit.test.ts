import { describe, expect, it } from 'vitest'
import { SlotBag, type Slotted } from '../src/replicas/slot-bag.js'

interface Entry extends Slotted {
  readonly name: string
}

const entry = (name: string): Entry => ({ slot: -1, name })
const names = (bag: SlotBag<Entry>) =>
  bag
    .snapshot()
    .map((e) => e.name)
    .sort()

describe('SlotBag', () => {
  it('adds and removes entries in any order, each once', () => {
    const bag = new SlotBag<Entry>()
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(entry) as [Entry, Entry, Entry, Entry]
    for (const e of [a, b, c, d]) bag.add(e)
    expect(bag.size).toBe(4)
    expect(bag.remove(b)).toBe(true)
    expect(names(bag)).toEqual(['a', 'c', 'd'])
    expect(bag.remove(b)).toBe(false)
    expect(bag.remove(d)).toBe(true)
    expect(bag.remove(a)).toBe(true)
    expect(names(bag)).toEqual(['c'])
    expect(c.slot).toBe(0)
    expect(bag.remove(c)).toBe(true)
    expect(bag.size).toBe(0)
    expect([a, b, c, d].map((e) => e.slot)).toEqual([-1, -1, -1, -1])
  })

  it('refuses an entry that was never in it, even one whose slot points at another entry', () => {
    const bag = new SlotBag<Entry>()
    const inside = entry('inside')
    bag.add(inside)
    const stranger: Entry = { slot: 0, name: 'stranger' }
    expect(bag.remove(stranger)).toBe(false)
    expect(names(bag)).toEqual(['inside'])
  })

  it('takeAll empties it, and what it took cannot be removed again', () => {
    const bag = new SlotBag<Entry>()
    const entries = ['a', 'b', 'c'].map(entry)
    for (const e of entries) bag.add(e)
    expect(bag.takeAll().map((e) => e.name)).toEqual(['a', 'b', 'c'])
    expect(bag.size).toBe(0)
    expect(entries.map((e) => bag.remove(e))).toEqual([false, false, false])
    bag.add(entries[1]!)
    expect(names(bag)).toEqual(['b'])
  })

  it('matches a Set over a long random run of adds and removes', () => {
    const bag = new SlotBag<Entry>()
    const model = new Set<Entry>()
    const pool = Array.from({ length: 50 }, (_, i) => entry(String(i)))
    let seed = 7
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed
    }
    for (let step = 0; step < 5000; step++) {
      const e = pool[next() % pool.length]!
      if (model.has(e)) {
        expect(bag.remove(e)).toBe(true)
        model.delete(e)
      } else {
        bag.add(e)
        model.add(e)
      }
      expect(bag.size).toBe(model.size)
    }
    expect(names(bag)).toEqual([...model].map((e) => e.name).sort())
  })

  it("keeps each entry's stamp through removals that move other entries, past its first capacity", () => {
    const bag = new SlotBag<Entry>()
    const pool = Array.from({ length: 40 }, (_, i) => entry(String(i)))
    const model = new Map<Entry, number>()
    let seed = 11
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed
    }
    for (let step = 0; step < 3000; step++) {
      const e = pool[next() % pool.length]!
      if (model.has(e)) {
        expect(bag.stampOf(e)).toBe(model.get(e))
        bag.remove(e)
        model.delete(e)
        expect(bag.stampOf(e)).toBeNaN()
      } else {
        const stamp = step + 0.5
        bag.add(e, stamp)
        model.set(e, stamp)
      }
    }
    for (const [e, stamp] of model) expect(bag.stampOf(e)).toBe(stamp)
  })
})
