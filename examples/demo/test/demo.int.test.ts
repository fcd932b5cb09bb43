import { MIN_REPLICA_SHARE, requireControl } from '@pgroute/cluster/testing'
import { expect, it } from 'vitest'
import { runDemo } from '../src/run-demo.js'

it('runs the drizzle app for 5 s through a replica kill with no stale read and no failed request', async (context) => {
  requireControl(context, 'kills a replica')
  const summary = await runDemo({ app: 'drizzle', duration: 5, killReplica: true, output: false })
  expect(summary).toMatchObject({
    staleReads: 0,
    errors: 0,
    problems: [],
    killedReplica: 'replica-1',
    ok: true,
  })
  // How many requests 5 s allow depends on the machine (over 50 checks on a quiet one, 11 at a load average of 25):
  // the run must have checked its reads, and not by reading everything from the primary.
  expect(summary.readAfterWriteChecks).toBeGreaterThan(0)
  const onReplicas = summary.readsByNode['replica-1']! + summary.readsByNode['replica-2']!
  expect(onReplicas / (onReplicas + summary.readsByNode.primary!)).toBeGreaterThanOrEqual(MIN_REPLICA_SHARE)
  expect(summary.writesByNode).toMatchObject({ 'replica-1': 0, 'replica-2': 0 })
  expect(summary.writesByNode.primary).toBeGreaterThan(0)
})

it('finds stale reads when the authors do not send their tokens back (the check can fail)', async (context) => {
  requireControl(context, 'a replica that replays WAL 2 s late')
  const summary = await runDemo({ app: 'kysely', duration: 5, tokens: false, output: false })
  expect(summary.staleReads).toBeGreaterThan(0)
  expect(summary.errors).toBe(0)
  expect(summary.ok).toBe(false)
})

it('puts replica-1 3 ms away with farReplica: every read it answers takes at least that long', async (context) => {
  requireControl(context, 'a delay proxy in front of a local replica')
  const summary = await runDemo({ app: 'kysely', duration: 4, farReplica: '3ms', output: false })
  expect(summary).toMatchObject({
    staleReads: 0,
    errors: 0,
    ok: true,
    farReplica: { name: 'replica-1', delayMs: 3 },
  })
  expect(summary.readsByNode['replica-1']).toBeGreaterThan(0)
  // Every read answered by replica-1 made at least one round trip through the proxy.
  expect(summary.readMsByNode['replica-1']).toBeGreaterThanOrEqual(3)
})
