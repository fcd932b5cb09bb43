import { Annotations, Match } from 'aws-cdk-lib/assertions'
import { describe, expect, it } from 'vitest'
import { resolveClusterOptions } from '../lib/cluster-options.js'
import { providerLogRetention } from '../lib/provider-log-group.js'
import { resourcesOfType, synthesizeCluster } from './template-helpers.js'

const synthesizedAt = new Date('2030-01-02T03:04:05Z')
const full = synthesizeCluster({
  availabilityZones: ['eu-west-1b', 'eu-west-1c'],
  ttlHours: 8,
  testRunnerCidr: '198.51.100.0/24',
  now: () => synthesizedAt,
})
const defaults = synthesizeCluster()

describe('availabilityZones', () => {
  it('places the subnets, and so the nodes, in the zones given', () => {
    const zones = Object.values(resourcesOfType(full, 'AWS::EC2::Subnet')).map(
      (subnet) => subnet.Properties!.AvailabilityZone,
    )
    expect(zones).toEqual(['eu-west-1b', 'eu-west-1c'])
  })

  it('defaults to the first two zones of the region', () => {
    const zones = Object.values(resourcesOfType(defaults, 'AWS::EC2::Subnet')).map(
      (subnet) => subnet.Properties!.AvailabilityZone,
    )
    expect(zones).toEqual([
      { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
      { 'Fn::Select': [1, { 'Fn::GetAZs': '' }] },
    ])
  })

  it.each([
    [[], /1 to 4 zones/],
    [['us-east-1a', 'eu-west-1b'], /zones of one region/],
    [['us-east-1a', 'us-east-1a'], /names a zone twice/],
    [['us-east-1'], /zone names such as us-east-1a/],
  ])('refuses %j', (availabilityZones, message) => {
    expect(() => resolveClusterOptions({ availabilityZones })).toThrow(message)
  })
})

describe('testRunnerCidr', () => {
  it('refuses anything wider than /16', () => {
    expect(() => resolveClusterOptions({ testRunnerCidr: '10.0.0.0/15' })).toThrow(/nothing wider than \/16/)
    expect(resolveClusterOptions({ testRunnerCidr: '10.1.0.0/16' }).testRunnerCidr).toBe('10.1.0.0/16')
  })

  it('warns when it is wider than one address, and not for a /32', () => {
    Annotations.fromStack(full.stack).hasWarning(
      '*',
      Match.stringLikeRegexp('testRunnerCidr 198.51.100.0/24 opens PostgreSQL to 256 addresses'),
    )
    const single = synthesizeCluster({ testRunnerCidr: '203.0.113.7/32' })
    expect(
      Annotations.fromStack(single.stack).findWarning('*', Match.stringLikeRegexp('testRunnerCidr')),
    ).toEqual([])
  })
})

describe('ttlHours', () => {
  it('schedules DeleteStack of this stack, ttlHours after synthesis', () => {
    const schedules = Object.values(resourcesOfType(full, 'AWS::Scheduler::Schedule'))
    expect(schedules).toHaveLength(1)
    const properties = schedules[0]!.Properties!
    expect(properties.ScheduleExpression).toBe('at(2030-01-02T11:04:05)')
    expect(properties.ScheduleExpressionTimezone).toBe('UTC')
    expect(properties.Target.Arn).toBe('arn:aws:scheduler:::aws-sdk:cloudformation:deleteStack')
    expect(JSON.stringify(properties.Target.Input)).toContain('AWS::StackId')
    expect(Object.values(resourcesOfType(defaults, 'AWS::Scheduler::Schedule'))).toHaveLength(0)
  })

  it('gives the schedule a retained role that can delete this stack and nothing else', () => {
    const [role] = Object.values(resourcesOfType(full, 'AWS::IAM::Role')).filter(
      (candidate) =>
        candidate.Properties!.AssumeRolePolicyDocument.Statement[0].Principal.Service ===
        'scheduler.amazonaws.com',
    )
    expect(role!.DeletionPolicy).toBe('Retain')
    const statements = role!.Properties!.Policies[0].PolicyDocument.Statement as Array<
      Record<string, unknown>
    >
    expect(statements[0]).toMatchObject({
      Action: ['cloudformation:DeleteStack', 'cloudformation:DescribeStacks'],
      Resource: { Ref: 'AWS::StackId' },
    })
    const actions = statements.flatMap((statement) => [statement.Action].flat() as string[])
    expect(actions.some((action) => action.includes('*'))).toBe(false)
    for (const statement of statements) {
      if (statement.Resource !== '*') continue
      const reads = [statement.Action].flat().every((action) => String(action).startsWith('ec2:Describe'))
      const tagged = JSON.stringify(statement.Condition ?? {}).includes(
        'aws:ResourceTag/aws:cloudformation:stack-id',
      )
      expect(reads || tagged, JSON.stringify(statement)).toBe(true)
    }
  })
})

describe('the custom-resource Lambda', () => {
  it('logs to a log group of the stack with a retention, created before the custom resource runs', () => {
    const groups = resourcesOfType(defaults, 'AWS::Logs::LogGroup')
    const [[groupId, group]] = Object.entries(groups) as [[string, (typeof groups)[string]]]
    expect(group.Properties!.RetentionInDays).toBe(providerLogRetention)
    expect(group.DeletionPolicy).toBe('Delete')
    const [handlerId] = Object.keys(resourcesOfType(defaults, 'AWS::Lambda::Function'))
    expect(group.Properties!.LogGroupName).toEqual({ 'Fn::Join': ['', ['/aws/lambda/', { Ref: handlerId }]] })
    const [custom] = Object.values(resourcesOfType(defaults, 'Custom::VpcRestrictDefaultSG'))
    expect(custom!.DependsOn).toContain(groupId)
  })
})
