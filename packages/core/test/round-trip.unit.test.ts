/**
 * A node's measured round-trip time (`RouterNode.rttMs`): a moving average with one sample per probe, the faster
 * of the probe's round trip and the fastest statement since the previous probe. Over a real delay proxy it is in
 * nearest.int.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { describe, expect, it } from 'vitest'
import type { RunningStatement } from '../src/replicas/router-node.js'
import { fakeReplica } from './helpers/fake-nodes.js'

function statement(body = false): RunningStatement {
  return { slot: -1, client: {} as pg.PoolClient, deadline: 0, body, lease: undefined }
}

describe('RouterNode round-trip time', () => {
  it('is unknown before the first probe, then the first sample, then moves a fifth of the way to each new one', () => {
    const node = fakeReplica('r')
    expect(node.rttMs).toBeUndefined()
    expect(node.info.rttMs).toBeUndefined()
    node.observeRtt(1)
    expect(node.rttMs).toBe(1)
    node.observeRtt(6)
    expect(node.rttMs).toBeCloseTo(2, 10)
    // A step change: about 90 % absorbed after ten more probes (1 − 0.8¹⁰ = 89 %).
    for (let i = 0; i < 10; i++) node.observeRtt(6)
    expect(node.rttMs!).toBeCloseTo(6 - 4 * 0.8 ** 10, 10)
    expect(node.info.rttMs).toBe(node.rttMs)
    // A probe reading without a round trip (none measured) changes nothing.
    const before = node.rttMs
    node.observeRtt(undefined)
    expect(node.rttMs).toBe(before)
  })

  it('takes the fastest statement since the last probe when it beat the probe', () => {
    const node = fakeReplica('r', { rttMs: 5 })
    const fast = statement()
    node.began(fast)
    node.ended(fast, true)
    // The probe took 5 ms (say, the router's event loop was busy); the statement well under 1 ms.
    node.observeRtt(5)
    expect(node.rttMs!).toBeLessThan(5 - 0.2 * 4)
    // The window closed: the next probe stands alone.
    node.observeRtt(5)
    const after = node.rttMs!
    expect(after).toBeGreaterThan(4)
  })

  it('keeps a node that serves only slow statements at its probes’ round trip', async () => {
    const node = fakeReplica('r', { rttMs: 0.3 })
    for (let i = 0; i < 3; i++) {
      const slow = statement()
      node.began(slow)
      await sleep(20)
      node.ended(slow, true)
      node.observeRtt(0.3)
    }
    expect(node.rttMs).toBeCloseTo(0.3, 10)
  })

  it('takes no sample from a failed statement or a transaction body', () => {
    const node = fakeReplica('r', { rttMs: 5 })
    const failed = statement()
    node.began(failed)
    node.ended(failed, false)
    const body = statement(true)
    node.began(body)
    node.ended(body, true)
    node.observeRtt(5)
    expect(node.rttMs).toBe(5)
    expect(node.inFlight).toBe(0)
  })
})
