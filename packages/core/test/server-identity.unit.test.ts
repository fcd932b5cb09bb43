import { describe, expect, it } from 'vitest'
import { ServerSightings, toServerIdentity } from '../src/health/server-identity.js'

const a = toServerIdentity({ address: '10.0.0.5', port: 5432, started_at: '2026-12-07 10:00:00+00' })
const b = toServerIdentity({ address: '10.0.0.6', port: 5432, started_at: '2026-12-07 09:00:00+00' })

describe('ServerSightings', () => {
  it('one server, however many connections and restarts, is no problem', () => {
    const sightings = new ServerSightings(60_000)
    sightings.record(a, 0)
    sightings.record(a, 1000)
    sightings.record({ ...a, startedAt: '2026-12-07 11:00:00+00' }, 2000) // Restarted: same address and port.
    expect(sightings.servers(2000)).toHaveLength(1)
    expect(sightings.problem(2000)).toBeUndefined()
  })

  it('two servers within the window are named', () => {
    const sightings = new ServerSightings(60_000)
    sightings.record(a, 0)
    sightings.record(b, 30_000)
    expect(sightings.problem(30_000)).toBe(
      'answers from 2 servers (10.0.0.5:5432, 10.0.0.6:5432): its lag and replay position describe one of them only',
    )
  })

  it('a server not seen for longer than the window ages out (a node moved to another server)', () => {
    const sightings = new ServerSightings(60_000)
    sightings.record(a, 0)
    sightings.record(b, 61_000)
    expect(sightings.servers(61_000)).toEqual([b])
    expect(sightings.problem(61_000)).toBeUndefined()
  })

  it('a server behind a connection held open stays seen while the connection lives, and for the window after', () => {
    const sightings = new ServerSightings(60_000)
    const start = Date.now()
    const release = sightings.hold(b, start - 120_000)
    // A pool connection opened long ago on b still reads from it: b is no less a server of the node.
    expect(sightings.servers(start)).toEqual([b])
    sightings.record(a, start)
    expect(sightings.problem(start)).toMatch(/^answers from 2 servers/)
    release()
    const closedAt = Date.now()
    expect(sightings.servers(closedAt + 30_000)).toHaveLength(2)
    expect(sightings.servers(closedAt + 200_000)).toEqual([])
  })
})
