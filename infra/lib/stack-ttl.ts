import { Aws, type CfnResource, RemovalPolicy, type Stack } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as scheduler from 'aws-cdk-lib/aws-scheduler'

/** What {@link addStackTtl} needs to know of the stack's resources to let the schedule delete them. */
export interface StackTtlTargets {
  /** ARNs of the stack's secrets. */
  readonly secretArns: readonly string[]
  /** ARN of the custom-resource Lambda (CloudFormation invokes it on delete), if any. */
  readonly functionArn?: string
  /** ARN of the stack's log group, if any. */
  readonly logGroupArn?: string
  /** The WAL archive bucket (`walArchive`), with the Lambda that empties it and its log group, if any. */
  readonly bucket?: { readonly arn: string; readonly functionArn?: string; readonly logGroupArn?: string }
}

const ec2Deletions = [
  'ec2:TerminateInstances',
  'ec2:DeleteSecurityGroup',
  'ec2:RevokeSecurityGroupIngress',
  'ec2:RevokeSecurityGroupEgress',
  'ec2:DeleteSubnet',
  'ec2:DeleteRoute',
  'ec2:DeleteRouteTable',
  'ec2:DisassociateRouteTable',
  'ec2:DetachInternetGateway',
  'ec2:DeleteInternetGateway',
  'ec2:DeleteVpc',
]
const ec2Reads = [
  'ec2:DescribeInstances',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSubnets',
  'ec2:DescribeRouteTables',
  'ec2:DescribeInternetGateways',
  'ec2:DescribeVpcs',
  'ec2:DescribeNetworkInterfaces',
]
const iamDeletions = [
  'iam:GetRole',
  'iam:ListRolePolicies',
  'iam:ListAttachedRolePolicies',
  'iam:ListInstanceProfilesForRole',
  'iam:DeleteRolePolicy',
  'iam:DetachRolePolicy',
  'iam:DeleteRole',
  'iam:GetInstanceProfile',
  'iam:RemoveRoleFromInstanceProfile',
  'iam:DeleteInstanceProfile',
]

/**
 * A one-time EventBridge Scheduler schedule that calls CloudFormation `DeleteStack` on this stack `hours` after
 * `now` (synthesis time), so a forgotten cluster stops costing money. CloudFormation deletes with the
 * schedule's role, which may delete what this stack creates and nothing else: EC2 resources carrying this
 * stack's `aws:cloudformation:stack-id` tag, roles, instance profiles and schedules named after the stack, its
 * secrets, Lambda function and log group. The role itself is retained (IAM roles are free), because
 * CloudFormation is using it while it deletes the stack.
 */
export function addStackTtl(
  stack: Stack,
  hours: number,
  now: Date,
  targets: StackTtlTargets,
): { readonly schedule: CfnResource; readonly role: iam.Role } {
  const statements: iam.PolicyStatement[] = []
  const allow = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
    statements.push(new iam.PolicyStatement({ actions, resources, conditions }))
  allow(['cloudformation:DeleteStack', 'cloudformation:DescribeStacks'], [stack.stackId])
  allow(ec2Deletions, ['*'], {
    StringEquals: { 'aws:ResourceTag/aws:cloudformation:stack-id': stack.stackId },
  })
  allow(ec2Reads, ['*'])
  allow(iamDeletions, [
    `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${stack.stackName}-*`,
    `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:instance-profile/${stack.stackName}-*`,
  ])
  allow(['secretsmanager:DeleteSecret', 'secretsmanager:DescribeSecret'], [...targets.secretArns])
  if (targets.functionArn) {
    allow(['lambda:InvokeFunction', 'lambda:GetFunction', 'lambda:DeleteFunction'], [targets.functionArn])
  }
  if (targets.logGroupArn) allow(['logs:DeleteLogGroup'], [targets.logGroupArn])
  if (targets.bucket) {
    // The bucket's auto-delete custom resource empties it (its Lambda runs with its own role), then
    // CloudFormation removes the bucket policy and the bucket.
    allow(['s3:GetBucketPolicy', 's3:DeleteBucketPolicy', 's3:DeleteBucket'], [targets.bucket.arn])
    if (targets.bucket.functionArn) {
      allow(
        ['lambda:InvokeFunction', 'lambda:GetFunction', 'lambda:DeleteFunction'],
        [targets.bucket.functionArn],
      )
    }
    if (targets.bucket.logGroupArn) allow(['logs:DeleteLogGroup'], [targets.bucket.logGroupArn])
  }
  allow(
    ['scheduler:GetSchedule', 'scheduler:DeleteSchedule'],
    [`arn:${Aws.PARTITION}:scheduler:${Aws.REGION}:${Aws.ACCOUNT_ID}:schedule/default/${stack.stackName}-*`],
  )
  // Inline, so the permissions live exactly as long as the (retained) role: a separate policy resource would
  // be deleted by the very deletion it allows.
  const role = new iam.Role(stack, 'TimeToLiveRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    }),
    description: `Deletes ${stack.stackName} when its time to live ends`,
    inlinePolicies: { DeleteStack: new iam.PolicyDocument({ statements }) },
  })
  role.applyRemovalPolicy(RemovalPolicy.RETAIN)

  const at = new Date(now.getTime() + hours * 3_600_000).toISOString().slice(0, 19)
  const schedule = new scheduler.CfnSchedule(stack, 'TimeToLive', {
    description: `Deletes ${stack.stackName} ${hours} h after it was synthesized (ttlHours)`,
    scheduleExpression: `at(${at})`,
    scheduleExpressionTimezone: 'UTC',
    flexibleTimeWindow: { mode: 'OFF' },
    target: {
      arn: 'arn:aws:scheduler:::aws-sdk:cloudformation:deleteStack',
      roleArn: role.roleArn,
      input: stack.toJsonString({ StackName: stack.stackId }),
      retryPolicy: { maximumRetryAttempts: 3 },
    },
  })
  return { schedule, role }
}
