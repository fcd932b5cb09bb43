import type pg from 'pg'
import { describe, expect, it } from 'vitest'
import type { ResolvedOptions } from '../src/config/resolved-options.js'
import { type Lease, leaseIsCurrent } from '../src/replicas/lease.js'
import { NodeSet } from '../src/replicas/node-set.js'
import { ReplicaSet, TriedReplicas } from '../src/replicas/replica-set.js'
import type { RouterNode } from '../src/replicas/router-node.js'
import { fakeSpec } from './helpers/fake-nodes.js'

function cluster() {
  const changes: string[] = []
  const states: string[] = []
  const nodes = new NodeSet([fakeSpec('p', 'primary'), fakeSpec('r1')], {
    nodeStateChanged: (node, from, reason) =>
      states.push(`${node.name}: ${from} → ${node.state} (${reason})`),
    primaryChanged: (from, to, reason) => changes.push(`${from.name} → ${to.name}: ${reason}`),
    roleChanged: () => {},
  })
  const p = nodes.byName('p')!
  const r1 = nodes.byName('r1')!
  r1.setState('up', 'reachable')
  return { nodes, p, r1, changes, states }
}

/** `node` failed `times` times in a row, the way `by` reports it. */
function fail(node: RouterNode, by: 'probe' | 'statement', times: number): void {
  for (let i = 0; i < times; i++) node.failed(new Error('connection refused'), 'connection refused', by)
}

/** A lease of `node` as the statement path makes one: its role and the set's epoch now. */
function leaseOf(nodes: NodeSet, node: RouterNode): Lease {
  return { node, client: {} as pg.PoolClient, role: node.role, epoch: nodes.epoch }
}

describe('NodeSet', () => {
  it('takes the configured primary as the first guess, writable while up or not probed yet', () => {
    const { nodes, p } = cluster()
    expect(nodes.primary).toBe(p)
    expect(p.state).toBe('unknown')
    expect(nodes.writable).toBe(p)
    fail(p, 'probe', 2)
    expect(nodes.writable).toBeUndefined()
  })

  it('a primary only suspected down (one failed probe, or failed statements only) is still tried', () => {
    const once = cluster()
    fail(once.p, 'probe', 1)
    expect(once.nodes.writable).toBe(once.p)
    const statements = cluster()
    fail(statements.p, 'statement', 3)
    expect(statements.p.downBy).toBe('statement')
    expect(statements.nodes.writable).toBe(statements.p)
  })

  it('a fenced primary, or one found back in recovery, takes no writes', () => {
    const fenced = cluster()
    fenced.p.setState('fenced', 'claims primary on timeline 1')
    expect(fenced.nodes.writable).toBeUndefined()
    const recovering = cluster()
    recovering.p.setState('up', 'reachable')
    recovering.nodes.demote(recovering.p) // found in recovery, no new primary yet
    expect(recovering.p.role).toBe('replica')
    expect(recovering.nodes.writable).toBeUndefined()
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
    fail(p, 'probe', 2)
    const started = Date.now()
    expect(await nodes.waitForWritable(50)).toBeUndefined()
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    const waiting = nodes.waitForWritable(10_000)
    setTimeout(() => nodes.elect(r1, 'leads timeline 2'), 20)
    expect(await waiting).toBe(r1)
  })

  it('waitForWritable stops waiting when its signal aborts', async () => {
    const { nodes, p } = cluster()
    fail(p, 'probe', 2)
    const controller = new AbortController()
    const waiting = nodes.waitForWritable(10_000, controller.signal)
    setTimeout(() => controller.abort(), 20)
    expect(await waiting).toBeUndefined()
  })

  it('add and remove change the set; a removed node takes nothing', () => {
    const { nodes, r1 } = cluster()
    const r2 = nodes.add(fakeSpec('r2'))
    expect(nodes.byName('r2')).toBe(r2)
    nodes.remove(r1)
    expect(nodes.all.map((node) => node.name)).toEqual(['p', 'r2'])
    expect(r1.usable).toBe(false)
  })

  it('tells its listener of every state change, once', () => {
    const { p, states } = cluster()
    fail(p, 'probe', 2)
    p.setState('up', 'reachable')
    expect(states).toEqual([
      'r1: unknown → up (reachable)',
      'p: unknown → down (connection refused)',
      'p: down → up (reachable)',
    ])
  })
})

describe('the topology epoch and leases', () => {
  it('a lease stays current while its node keeps its role, whatever happens to other nodes', () => {
    const { nodes, p, r1 } = cluster()
    const onPrimary = leaseOf(nodes, p)
    const onReplica = leaseOf(nodes, r1)
    const r2 = nodes.add(fakeSpec('r2'))
    r2.setState('fenced', 'follows timeline 1')
    fail(p, 'statement', 1) // down is no role change: its leases fail by themselves
    nodes.remove(r2)
    expect(leaseIsCurrent(onPrimary)).toBe(true)
    expect(leaseIsCurrent(onReplica)).toBe(true)
  })

  it('an election makes the leases of both nodes whose role changed stale, and bumps the epoch', () => {
    const { nodes, p, r1 } = cluster()
    const onPrimary = leaseOf(nodes, p)
    const onReplica = leaseOf(nodes, r1)
    const before = nodes.epoch
    nodes.elect(r1, 'leads timeline 2')
    expect(nodes.epoch).toBeGreaterThan(before)
    expect(leaseIsCurrent(onPrimary)).toBe(false)
    expect(leaseIsCurrent(onReplica)).toBe(false)
    // Leases granted under the new roles are current.
    expect(leaseIsCurrent(leaseOf(nodes, r1))).toBe(true)
  })

  it('fencing a node, unfencing it, or finding the primary back in recovery makes its leases stale', () => {
    const { nodes, p, r1 } = cluster()
    const before = leaseOf(nodes, r1)
    r1.setState('fenced', 'follows timeline 1')
    expect(leaseIsCurrent(before)).toBe(false)
    const whileFenced = leaseOf(nodes, r1)
    r1.setState('up', 'caught up')
    expect(leaseIsCurrent(whileFenced)).toBe(false)
    const onPrimary = leaseOf(nodes, p)
    nodes.demote(p)
    expect(leaseIsCurrent(onPrimary)).toBe(false)
  })

  it('adding or removing a node bumps the epoch', () => {
    const { nodes } = cluster()
    const before = nodes.epoch
    const r2 = nodes.add(fakeSpec('r2'))
    nodes.remove(r2)
    expect(nodes.epoch).toBe(before + 2)
  })
})

describe('ReplicaSet over a NodeSet', () => {
  it('reads only up replicas; falls back to the primary, never to a fenced one', () => {
    const { nodes, p, r1 } = cluster()
    const replicas = new ReplicaSet(nodes, { balance: 'round-robin', fallback: 'primary' } as ResolvedOptions)
    expect(replicas.pick(new TriedReplicas())).toBe(r1)
    r1.setState('fenced', 'follows timeline 1')
    expect(replicas.pick(new TriedReplicas())).toBe(p)
    p.setState('fenced', "claims primary on timeline 1, older than the cluster's timeline 2")
    expect(() => replicas.pick(new TriedReplicas())).toThrow(
      /primary p is fenced \(claims primary on timeline 1/,
    )
  })
})
