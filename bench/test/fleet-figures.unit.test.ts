import { expect, it } from 'vitest'
import { fleetSizes } from '../src/fleet.js'
import { quantile } from '../src/interleaved-rounds.js'
import { type ServerSample, serverCost } from '../src/server-sampler.js'

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
