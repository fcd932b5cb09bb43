import { describe, expect, it } from 'vitest'
import { SharedFetch } from '../src/session/shared-fetch.js'

describe('SharedFetch', () => {
  it('runs one fetch at a time; callers arriving meanwhile share the next one', async () => {
    const started: Array<(value: number) => void> = []
    const shared = new SharedFetch(() => new Promise<number>((resolve) => started.push(resolve)))
    const first = shared.get()
    const second = shared.get()
    const third = shared.get()
    expect(started).toHaveLength(1) // the second fetch waits for the first
    started[0]!(1)
    expect(await first).toBe(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(started).toHaveLength(2) // one more, for every caller that came while the first ran
    started[1]!(2)
    expect(await Promise.all([second, third])).toEqual([2, 2])
  })

  it('a failed fetch fails its callers only; the next caller fetches again', async () => {
    let calls = 0
    const shared = new SharedFetch(async () => {
      calls++
      if (calls === 1) throw new Error('down')
      return calls
    })
    await expect(shared.get()).rejects.toThrow('down')
    expect(await shared.get()).toBe(2)
  })
})
