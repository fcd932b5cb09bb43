import { describe, expect, it } from 'vitest'
import { clusterDefaults, clusterOptionsFromContext, resolveClusterOptions } from '../lib/cluster-options.js'
import { isInfraError } from '../lib/infra-error.js'
import { formatIpv4Cidr, ipv4CidrContains, parseIpv4Cidr } from '../lib/ipv4-cidr.js'

function errorOf(action: () => unknown): unknown {
  try {
    action()
  } catch (error) {
    return error
  }
  throw new Error('expected an error')
}

describe('resolveClusterOptions', () => {
  it('applies the documented defaults', () => {
    expect(resolveClusterOptions()).toEqual({ ...clusterDefaults, testRunnerCidr: undefined })
  })

  it('accepts a narrow test-runner network and treats an empty one as none', () => {
    expect(resolveClusterOptions({ testRunnerCidr: '198.51.100.0/24' }).testRunnerCidr).toBe(
      '198.51.100.0/24',
    )
    expect(resolveClusterOptions({ testRunnerCidr: '' }).testRunnerCidr).toBeUndefined()
  })

  it.each([
    ['0.0.0.0/0', /whole internet/],
    ['128.0.0.0/1', /large part of the internet/],
    ['203.0.113.7/24', /host bits set; did you mean 203\.0\.113\.0\/24\?/],
    ['203.0.113.300/32', /octet above 255/],
    ['::/0', /expected an IPv4 network/],
  ])('refuses test-runner CIDR %s', (testRunnerCidr, message) => {
    const error = errorOf(() => resolveClusterOptions({ testRunnerCidr }))
    expect(isInfraError(error)).toBe(true)
    expect(error).toMatchObject({ option: 'testRunnerCidr', message: expect.stringMatching(message) })
  })

  it('accepts the supported PostgreSQL majors and x86 instance types', () => {
    for (const postgresVersion of [15, 16, 17, 18])
      expect(resolveClusterOptions({ postgresVersion }).postgresVersion).toBe(postgresVersion)
    expect(resolveClusterOptions({ instanceType: 't3.small' }).instanceType).toBe('t3.small')
  })

  it('allows 1 to 8 replicas', () => {
    expect(resolveClusterOptions({ replicas: 1 }).replicas).toBe(1)
    expect(resolveClusterOptions({ replicas: 8 }).replicas).toBe(8)
    expect(errorOf(() => resolveClusterOptions({ replicas: 9 }))).toMatchObject({
      option: 'replicas',
      message: 'Invalid option `replicas`: expected an integer from 1 to 8, got 9',
    })
  })

  it('refuses a VPC network that is public or too small for two /24 subnets', () => {
    expect(errorOf(() => resolveClusterOptions({ vpcCidr: '10.0.0.0/24' }))).toMatchObject({
      option: 'vpcCidr',
    })
    expect(errorOf(() => resolveClusterOptions({ vpcCidr: '100.64.0.0/16' }))).toMatchObject({
      option: 'vpcCidr',
    })
    expect(resolveClusterOptions({ vpcCidr: '192.168.0.0/20' }).vpcCidr).toBe('192.168.0.0/20')
  })
})

describe('clusterOptionsFromContext', () => {
  it('converts -c strings to numbers and leaves unset keys unset', () => {
    const context: Record<string, unknown> = {
      replicas: '3',
      dataVolumeGiB: 50,
      testRunnerCidr: '203.0.113.7/32',
    }
    expect(clusterOptionsFromContext((key) => context[key])).toEqual({
      replicas: 3,
      dataVolumeGiB: 50,
      testRunnerCidr: '203.0.113.7/32',
    })
  })

  it('reads availabilityZones as a comma-separated list and ttlHours as a number', () => {
    const context: Record<string, unknown> = { availabilityZones: 'us-east-1a, us-east-1c', ttlHours: '12' }
    expect(clusterOptionsFromContext((key) => context[key])).toEqual({
      availabilityZones: ['us-east-1a', 'us-east-1c'],
      ttlHours: 12,
    })
    expect(() => resolveClusterOptions({ ttlHours: 0 })).toThrow(/ttlHours.*1 to 720/)
  })

  it('names the context key that is not a number', () => {
    expect(
      errorOf(() => clusterOptionsFromContext((key) => (key === 'postgresVersion' ? 'latest' : undefined))),
    ).toMatchObject({
      code: 'PGROUTE_INFRA_INVALID_OPTION',
      option: 'postgresVersion',
      message: 'Invalid option `postgresVersion`: expected a number, got "latest"',
    })
  })
})

describe('ipv4 CIDR helpers', () => {
  it('round-trips and tests containment', () => {
    const vpc = parseIpv4Cidr('10.42.0.0/16')
    const subnet = parseIpv4Cidr('10.42.7.0/24')
    if (typeof vpc === 'string' || typeof subnet === 'string') throw new Error('parse failed')
    expect(formatIpv4Cidr(subnet)).toBe('10.42.7.0/24')
    expect(ipv4CidrContains(vpc, subnet)).toBe(true)
    expect(ipv4CidrContains(subnet, vpc)).toBe(false)
    expect(parseIpv4Cidr('255.255.255.255/32')).toEqual({ address: 0xffffffff, prefix: 32 })
  })
})
