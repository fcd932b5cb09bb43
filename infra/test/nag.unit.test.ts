import { App, Validations } from 'aws-cdk-lib'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import { AwsSolutionsChecks } from 'cdk-nag'
import { describe, expect, it } from 'vitest'
import { PgrouteClusterStack, type PgrouteClusterStackProps } from '../lib/cluster-stack.js'

/** Synthesizes with the AwsSolutions pack; returns the report of unacknowledged findings, or '' when none. */
function nagReport(props: PgrouteClusterStackProps): string {
  const app = new App()
  new PgrouteClusterStack(app, 'NagCluster', props)
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app))
  try {
    app.synth()
    return ''
  } catch (error) {
    return String((error as Error).message)
  }
}

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['the defaults', {}],
    [
      'every option (test runner, zones, time to live)',
      {
        testRunnerCidr: '203.0.113.7/32',
        availabilityZones: ['us-east-1a', 'us-east-1c'],
        ttlHours: 8,
        replicas: 3,
      },
    ],
    [
      'WAL archiving and a synchronous replica (with a time to live)',
      { walArchive: true, synchronousReplica: true, synchronousCommit: 'remote_apply' as const, ttlHours: 8 },
    ],
  ])('finds nothing unacknowledged with %s', (_name, props: PgrouteClusterStackProps) => {
    expect(nagReport(props)).toBe('')
  })

  it('would report a finding that is not acknowledged (the check can fail)', () => {
    const app = new App()
    const stack = new PgrouteClusterStack(app, 'NagCluster')
    // A secret without rotation and without an acknowledgment.
    new secretsmanager.Secret(stack, 'Extra')
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app))
    expect(() => app.synth()).toThrow(/AwsSolutions-SMG4/)
  })
})
