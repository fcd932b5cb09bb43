import { describe, expect, it } from 'vitest'
import type { ProbeReading } from '../src/health/node-probe.js'
import {
  type Incumbent,
  type Observation,
  replacementIdentity,
  resolveRoles,
} from '../src/health/role-resolver.js'

interface Node {
  readonly name: string
}

const p: Node = { name: 'p' }
const r1: Node = { name: 'r1' }
const r2: Node = { name: 'r2' }

function reading(inRecovery: boolean, timeline: number | undefined, systemId = '7000'): ProbeReading {
  return { inRecovery, timeline, systemId, lsn: 100n, receiveLsn: undefined, replayAgeSeconds: undefined }
}

function primaryOn(timeline: number | undefined, systemId?: string): ProbeReading {
  return reading(false, timeline, systemId)
}

function replicaOn(timeline: number | undefined, systemId?: string): ProbeReading {
  return reading(true, timeline, systemId)
}

function roles(
  observations: Observation<Node>[],
  current: Node,
  timeline = 0,
  systemId?: string,
  incumbent?: Incumbent,
) {
  const resolution = resolveRoles(observations, current, { systemId, timeline }, incumbent)
  const verdicts = Object.fromEntries(
    [...resolution.verdicts].map(([node, verdict]) => [
      node.name,
      verdict.role === 'fenced' ? `fenced: ${verdict.reason}` : verdict.role,
    ]),
  )
  return { primary: resolution.primary?.name, timeline: resolution.timeline, verdicts }
}

describe('resolveRoles', () => {
  it('keeps a healthy cluster as configured', () => {
    expect(
      roles(
        [
          { node: p, reading: primaryOn(1) },
          { node: r1, reading: replicaOn(1) },
          { node: r2, reading: replicaOn(1) },
        ],
        p,
      ),
    ).toEqual({ primary: 'p', timeline: 1, verdicts: { p: 'primary', r1: 'replica', r2: 'replica' } })
  })

  it('follows a promotion: the node leading the newest timeline is primary, whatever was configured', () => {
    const result = roles(
      [
        { node: p, reading: undefined },
        { node: r1, reading: primaryOn(2) },
        { node: r2, reading: replicaOn(2) },
      ],
      p,
      1,
    )
    expect(result).toEqual({ primary: 'r1', timeline: 2, verdicts: { r1: 'primary', r2: 'replica' } })
  })

  it('fences an old primary back on its old timeline, and a replica still following it (split brain)', () => {
    const result = roles(
      [
        { node: p, reading: primaryOn(1) },
        { node: r1, reading: primaryOn(2) },
        { node: r2, reading: replicaOn(1) },
      ],
      r1,
      2,
    )
    expect(result.primary).toBe('r1')
    expect(result.verdicts.p).toMatch(
      /^fenced: claims primary on timeline 1, older than the cluster's timeline 2/,
    )
    expect(result.verdicts.r2).toMatch(/^fenced: follows timeline 1/)
  })

  it('never goes back to an older timeline, even while the newest primary is unreachable', () => {
    const result = roles(
      [
        { node: p, reading: primaryOn(1) },
        { node: r1, reading: undefined },
      ],
      r1,
      2,
    )
    expect(result.primary).toBeUndefined()
    expect(result.verdicts.p).toMatch(/^fenced/)
  })

  it('fences a node of another system identifier, learning the cluster identity from the first guess', () => {
    const result = roles(
      [
        { node: p, reading: primaryOn(1, 'A') },
        { node: r1, reading: primaryOn(5, 'B') },
        { node: r2, reading: replicaOn(1, 'A') },
      ],
      p,
    )
    expect(result.primary).toBe('p')
    expect(result.timeline).toBe(1)
    expect(result.verdicts.r1).toBe("fenced: system identifier B is not the cluster's (A)")
    expect(result.verdicts.r2).toBe('replica')
  })

  it('fences a second primary on the same timeline, keeping the current one', () => {
    const result = roles(
      [
        { node: p, reading: primaryOn(3) },
        { node: r1, reading: primaryOn(3) },
      ],
      r1,
    )
    expect(result.primary).toBe('r1')
    expect(result.verdicts.p).toMatch(/^fenced: claims primary on timeline 3 beside r1/)
  })

  it('takes a wrong first guess back: the configured primary is a replica', () => {
    const result = roles(
      [
        { node: p, reading: replicaOn(1) },
        { node: r1, reading: primaryOn(1) },
      ],
      p,
    )
    expect(result).toMatchObject({ primary: 'r1', verdicts: { p: 'replica', r1: 'primary' } })
  })

  it('does not fence on a timeline it cannot read', () => {
    const result = roles(
      [
        { node: p, reading: primaryOn(2) },
        { node: r1, reading: replicaOn(undefined) },
      ],
      p,
    )
    expect(result.verdicts).toEqual({ p: 'primary', r1: 'replica' })
  })

  it('a replica on a newer timeline than any primary seen fences the old primary', () => {
    const result = roles(
      [
        { node: p, reading: primaryOn(1) },
        { node: r1, reading: replicaOn(2) },
      ],
      p,
      1,
    )
    expect(result.primary).toBeUndefined()
    expect(result.timeline).toBe(2)
    expect(result.verdicts.p).toMatch(/^fenced/)
    expect(result.verdicts.r1).toBe('replica')
  })

  describe('a writable node on the timeline the primary leads (not a promotion)', () => {
    const led: Incumbent = { timeline: 1, lsn: 200n, gone: false }

    it('never takes over while the primary stalls: no primary until it answers, the rival fenced naming it', () => {
      const result = roles(
        [
          { node: p, reading: undefined },
          { node: r1, reading: replicaOn(1) },
          { node: r2, reading: primaryOn(1) },
        ],
        p,
        1,
        undefined,
        led,
      )
      expect(result.primary).toBeUndefined()
      expect(result.verdicts.r2).toMatch(
        /^fenced: claims primary on timeline 1 beside p \(the primary, unreachable now\): a second writable node/,
      )
      expect(result.verdicts.r1).toBe('replica')
    })

    it('the primary answering again keeps its place', () => {
      const result = roles(
        [
          { node: p, reading: primaryOn(1) },
          { node: r2, reading: primaryOn(1) },
        ],
        p,
        1,
        undefined,
        led,
      )
      expect(result.primary).toBe('p')
      expect(result.verdicts.r2).toMatch(/^fenced: claims primary on timeline 1 beside p/)
    })

    it('a promotion (a newer timeline) still takes over at once', () => {
      const result = roles(
        [
          { node: p, reading: undefined },
          { node: r2, reading: primaryOn(2) },
        ],
        p,
        1,
        undefined,
        led,
      )
      expect(result.primary).toBe('r2')
    })

    it('takes over when the primary answers in recovery (it says it is no longer primary)', () => {
      const result = roles(
        [
          { node: p, reading: replicaOn(1) },
          { node: r2, reading: primaryOn(1) },
        ],
        p,
        1,
        undefined,
        led,
      )
      expect(result.primary).toBe('r2')
    })

    it('takes over once the primary is gone, only holding its last position', () => {
      const observations = [
        { node: p, reading: undefined },
        { node: r2, reading: primaryOn(1) }, // at 100n
      ]
      expect(roles(observations, p, 1, undefined, { ...led, gone: true }).primary).toBeUndefined()
      expect(roles(observations, p, 1, undefined, { timeline: 1, lsn: 100n, gone: true }).primary).toBe('r2')
    })
  })
})

describe('replacementIdentity', () => {
  const identity = { systemId: 'A', timeline: 3 }

  it('the other system identifier every node reports', () => {
    const observations = [
      { node: p, reading: primaryOn(1, 'B') },
      { node: r1, reading: replicaOn(1, 'B') },
    ]
    expect(replacementIdentity(observations, identity)).toBe('B')
  })

  it('none while any node is of the old cluster, unreachable, of a third one, or silent about it', () => {
    const b = primaryOn(1, 'B')
    expect(
      replacementIdentity(
        [
          { node: p, reading: b },
          { node: r1, reading: replicaOn(3, 'A') },
        ],
        identity,
      ),
    ).toBeUndefined()
    expect(
      replacementIdentity(
        [
          { node: p, reading: b },
          { node: r1, reading: undefined },
        ],
        identity,
      ),
    ).toBeUndefined()
    expect(
      replacementIdentity(
        [
          { node: p, reading: b },
          { node: r1, reading: replicaOn(1, 'C') },
        ],
        identity,
      ),
    ).toBeUndefined()
    expect(
      replacementIdentity(
        [
          { node: p, reading: b },
          { node: r1, reading: { ...replicaOn(1), systemId: undefined } },
        ],
        identity,
      ),
    ).toBeUndefined()
    expect(
      replacementIdentity([{ node: p, reading: b }], { systemId: undefined, timeline: 0 }),
    ).toBeUndefined()
  })
})
