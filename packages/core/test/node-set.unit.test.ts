import { describe, expect, it } from 'vitest'
import type { ResolvedOptions } from '../src/config/resolved-options.js'
import { NodeSet } from '../src/replicas/node-set.js'
import { ReplicaSet, TriedReplicas } from '../src/replicas/replica-set.js'
import type { RouterNode } from '../src/replicas/router-node.js'
import { fakeReplica } from './helpers/fake-nodes.js'

function cluster() {
  const p = fakeReplica('p')
  p.role = 'primary'
  const r1 = fakeReplica('r1')
  const changes: string[] = []
  let refreshed = 0
  const nodes = new NodeSet(
    [p, r1],
    (from, to, reason) => changes.push(`${from.name} → ${to.name}: ${reason}`),
    () => refreshed++,
  )
  return { nodes, p, r1, changes, refreshed: () => refreshed }
}

describe('NodeSet', () => {
  it('takes the configured primary as the first guess, writable while up or not probed yet', () => {
    const { nodes, p } = cluster()
    expect(nodes.primary).toBe(p)
    p.state = 'unknown'
    expect(nodes.writable).toBe(p)
    p.state = 'down'
    p.downBy = 'probe'
    p.failures = 2
    expect(nodes.writable).toBeUndefined()
    // Suspected down by one failed probe, or by failed statements only: writes still try it until a re-probe tells.
    p.failures = 1
    expect(nodes.writable).toBe(p)
    p.downBy = 'statement'
    p.failures = 3
    expect(nodes.writable).toBe(p)
    p.state = 'fenced'
    expect(nodes.writable).toBeUndefined()
    p.state = 'up'
    p.role = 'replica' // found in recovery, no new primary yet
    expect(nodes.writable).toBeUndefined()
  })

  it('elect moves the primary, sets every role and reports the change once', () => {
    const { nodes, p, r1, changes } = cluster()
    nodes.elect(r1, 'leads timeline 2')
    nodes.elect(r1, 'leads timeline 2')
    expect([nodes.primary, p.role, r1.role]).toEqual([r1, 'replica', 'primary'])
    expect(changes).toEqual(['p → r1: leads timeline 2'])
  })

  it('waitForWritable resolves when a primary may take writes, or undefined after the wait', async () => {
    const { nodes, p, r1 } = cluster()
    p.state = 'down'
    p.downBy = 'probe'
    p.failures = 2
    const started = Date.now()
    expect(await nodes.waitForWritable(50)).toBeUndefined()
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    const waiting = nodes.waitForWritable(10_000)
    setTimeout(() => nodes.elect(r1, 'leads timeline 2'), 20)
    expect(await waiting).toBe(r1)
  })

  it('waitForWritable stops waiting when its signal aborts', async () => {
    const { nodes, p } = cluster()
    p.state = 'down'
    p.downBy = 'probe'
    p.failures = 2
    const controller = new AbortController()
    const waiting = nodes.waitForWritable(10_000, controller.signal)
    setTimeout(() => controller.abort(), 20)
    expect(await waiting).toBeUndefined()
  })

  it('add and remove change the set; a removed node takes nothing', () => {
    const { nodes, r1 } = cluster()
    const r2: RouterNode = fakeReplica('r2')
    nodes.add(r2)
    expect(nodes.byName('r2')).toBe(r2)
    nodes.remove(r1)
    expect(nodes.all.map((node) => node.name)).toEqual(['p', 'r2'])
    expect(r1.usable).toBe(false)
  })
})

describe('ReplicaSet over a NodeSet', () => {
  it('reads only up replicas; falls back to the primary, never to a fenced one', () => {
    const { nodes, p, r1 } = cluster()
    const replicas = new ReplicaSet(nodes, { balance: 'round-robin', fallback: 'primary' } as ResolvedOptions)
    replicas.refresh()
    expect(replicas.pick(new TriedReplicas())).toBe(r1)
    r1.state = 'fenced'
    replicas.refresh()
    expect(replicas.pick(new TriedReplicas())).toBe(p)
    p.state = 'fenced'
    p.reason = "claims primary on timeline 1, older than the cluster's timeline 2"
    expect(() => replicas.pick(new TriedReplicas())).toThrow(
      /primary p is fenced \(claims primary on timeline 1/,
    )
  })
})
