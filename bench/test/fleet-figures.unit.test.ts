import { expect, it } from 'vitest'
import { fleetSizes, type Phase, phaseRows, reductions } from '../src/fleet.js'
import { quantile } from '../src/interleaved-rounds.js'
import { type ServerCost, type ServerSample, serverCost } from '../src/server-sampler.js'

function sample(
  at: number,
  backends: ServerSample['backends'],
  cpu: Record<number, number>,
  calls: ServerSample['calls'],
) {
  return { at, backends, cpu: new Map(Object.entries(cpu).map(([pid, ns]) => [Number(pid), ns])), calls }
}

it('serverCost attributes backend CPU and statements to their owners over the window', () => {
  const start = sample(
    0,
    [
      { pid: 1, owner: 'monitor', state: 'idle' },
      { pid: 2, owner: 'monitor', state: 'idle' },
      { pid: 3, owner: undefined, state: 'active' },
    ],
    { 1: 1_000_000, 2: 5_000_000, 3: 0 },
    { monitor: 100, control: 7, app: 0 },
  )
  const end = sample(
    2000,
    [
      { pid: 1, owner: 'monitor', state: 'idle' },
      { pid: 2, owner: 'monitor', state: 'idle' },
      { pid: 3, owner: undefined, state: 'active' },
      // Opened during the window: all of its CPU counts.
      { pid: 4, owner: 'control', state: 'idle' },
      { pid: 5, owner: 'app', state: 'idle' },
    ],
    { 1: 1_400_000, 2: 5_400_000, 3: 90_000_000, 4: 300_000, 5: 0 },
    { monitor: 104, control: 10, app: 0 },
  )
  const cost = serverCost(start, end)
  expect(cost.connections).toEqual({ monitor: 2, control: 1, app: 1, total: 5 })
  expect(cost.statementsPerSecond).toEqual({ monitor: 2, control: 1.5, app: 0 })
  // 0.8 ms of probe CPU in 2 s; 4 probes: 200 µs each. The unowned backend's 90 ms count nowhere.
  expect(cost.cpuMsPerSecond.monitor).toBeCloseTo(0.4)
  expect(cost.cpuMicrosPerStatement.monitor).toBeCloseTo(200)
  expect(cost.cpuMsPerSecond.control).toBeCloseTo(0.15)
  expect(cost.cpuMicrosPerStatement.control).toBeCloseTo(100)
  expect(cost.cpuMicrosPerStatement.app).toBe(0)
})

it('fleetSizes reads a list of positive integers and names the setting otherwise', () => {
  expect(fleetSizes('1,10, 100')).toEqual([1, 10, 100])
  expect(fleetSizes('200')).toEqual([200])
  for (const bad of ['0', '1,,2', '10,x', '-3', '2.5']) {
    expect(() => fleetSizes(bad)).toThrow(/BENCH_FLEET_ROUTERS \(--routers\)/)
  }
})

it('quantile picks by nearest rank', () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1)
  expect(quantile(sorted, 0.5)).toBe(50)
  expect(quantile(sorted, 0.99)).toBe(99)
  expect(quantile([7], 0.99)).toBe(7)
  expect(() => quantile([], 0.5)).toThrow()
})

/** What one server spent in a phase: `probes` probes/s on `monitor` connections, `cpu` ms/s of their CPU. */
function cost(probes: number, cpu: number, monitor: number): ServerCost {
  return {
    connections: { monitor, control: 0, app: 0, total: monitor },
    statementsPerSecond: { monitor: probes, control: 0, app: 0 },
    cpuMsPerSecond: { monitor: cpu, control: 0, app: 0 },
    cpuMicrosPerStatement: { monitor: (cpu * 1000) / probes, control: 0, app: 0 },
  }
}

function phase(probing: string, traffic: string, costs: ServerCost[]): Phase {
  return {
    probing,
    size: 200,
    processes: 4,
    traffic,
    nodes: ['primary', 'replica-1'],
    costs,
    memory: { rss: 0, heapUsed: 0 },
    failed: '-',
  }
}

it('fleet: adaptive idle rows carry the reduction against fixed 1 s from unrounded figures, other rows none', () => {
  // 200 routers: 0.0625 probes/s each when adaptive (one probe in a 16 s window), 1 each when fixed: 16×, where
  // the rounded probes/s per router (0.063 and 1) would say 15.9×.
  const phases = [
    phase('fixed 1 s', 'idle', [cost(200, 60, 200), cost(200, 40, 200)]),
    phase('fixed 1 s', 'light (2/s per router)', [cost(200, 60, 200), cost(200, 40, 200)]),
    phase('adaptive', 'idle', [cost(12.5, 4, 200), cost(12.5, 2, 200)]),
    phase('adaptive', 'light (2/s per router)', [cost(150, 50, 200), cost(150, 30, 200)]),
  ]
  const rows = phaseRows(phases)
  const row = (probing: string, traffic: string, node: string) =>
    rows.find((r) => r.probing === probing && r.traffic === traffic && r.node === node)!
  expect(row('adaptive', 'idle', 'primary')['fewer probes than fixed']).toBe('16.0×')
  expect(row('adaptive', 'idle', 'replica-1')['fewer probes than fixed']).toBe('16.0×')
  expect(row('adaptive', 'light (2/s per router)', 'primary')['fewer probes than fixed']).toBe('-')
  expect(row('fixed 1 s', 'idle', 'primary')['fewer probes than fixed']).toBe('-')
  // Per router over both nodes: 2 probes/s against 0.125; 100 ms/s of CPU against 6 (500 µs/s against 30).
  const [line, ...more] = reductions(phases)
  expect(more).toEqual([])
  expect(line).toMatch(/^fleet of 200, idle, per router over the 2 nodes: fixed 1 s 2\.000 probes\/s/)
  expect(line).toContain('adaptive 0.125 probes/s')
  expect(line).toContain('16.0× fewer probes')
  expect(line).toContain('2.00 connections of its own')
})
