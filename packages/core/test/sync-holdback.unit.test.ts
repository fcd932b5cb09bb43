/**
 * Which replicas `syncHoldback` holds back while the primary is down: those other than the synchronous standbys
 * with WAL past where every synchronous standby is known to have it (the integration test,
 * `sync-holdback.int.test.ts`, shows it on a real cluster).
 */
import { describe, expect, it } from 'vitest'
import type { ProbeReading } from '../src/health/node-probe.js'
import { syncHoldback } from '../src/health/sync-holdback.js'
import type { SyncSnapshot, WalSender } from '../src/health/sync-replication.js'
import { fakeReplica } from './helpers/fake-nodes.js'

function sender(name: string, syncState: string, flushLsn?: bigint): WalSender {
  const syncPriority = syncState === 'async' ? 0 : 1
  return { name, pid: 1, backendStart: 't', state: 'streaming', syncState, syncPriority, flushLsn }
}

function snapshot(senders: WalSender[] | undefined): SyncSnapshot {
  return {
    standbyNames: 'replica-1',
    commit: undefined,
    configLoadedAt: 't',
    configAgeMs: 5000,
    backendPid: 1,
    senders,
    sentAt: 0,
    receivedAt: 0,
  }
}

function standby(name: string, lsn: bigint | undefined, receiveLsn?: bigint): ProbeReading {
  return {
    inRecovery: true,
    lsn,
    receiveLsn,
    replayAgeSeconds: 0,
    timeline: 1,
    applicationName: name,
    systemId: '1',
  }
}

const one = fakeReplica('replica-1')
const two = fakeReplica('replica-2')

describe('syncHoldback', () => {
  it('holds back an asynchronous replica with WAL past the synchronous standby, not one level with it', () => {
    const seen = [
      { node: one, reading: standby('replica-1', 100n, 120n) },
      { node: two, reading: standby('replica-2', 150n) },
    ]
    const hold = syncHoldback(snapshot([sender('replica-1', 'sync'), sender('replica-2', 'async')]), seen)!
    expect(hold(two, standby('replica-2', 150n))).toMatch(/past 0\/78 where its synchronous standbys have it/)
    expect(hold(two, standby('replica-2', 120n))).toBeUndefined()
    expect(hold(two, standby('replica-2', 110n, 121n))).toBeDefined() // received, not replayed yet: it will be
    expect(hold(one, standby('replica-1', 100n, 120n))).toBeUndefined() // the standby itself
  })

  it("counts the primary's last flush position for the standby when its own probe says less", () => {
    const seen = [{ node: one, reading: standby('replica-1', 100n) }]
    const hold = syncHoldback(snapshot([sender('REPLICA-1', 'sync', 200n)]), seen)!
    expect(hold(two, standby('replica-2', 150n))).toBeUndefined()
    expect(hold(two, standby('replica-2', 201n))).toBeDefined()
  })

  it('holds back every other replica when where a synchronous standby has the WAL is not known', () => {
    const hold = syncHoldback(snapshot([sender('elsewhere', 'sync')]), [])!
    expect(hold(two, standby('replica-2', 1n))).toMatch(/elsewhere has the WAL is not known/)
  })

  it('holds back nothing without a synchronous standby, or when the senders could not be seen', () => {
    expect(syncHoldback(snapshot([sender('replica-1', 'async')]), [])).toBeUndefined()
    expect(syncHoldback(snapshot([sender('replica-1', 'potential')]), [])).toBeUndefined()
    expect(syncHoldback(snapshot(undefined), [])).toBeUndefined()
    expect(syncHoldback(undefined, [])).toBeUndefined()
  })
})
