import { Stack, Validations } from 'aws-cdk-lib'
import type { IConstruct } from 'constructs'

/** The constructs of a cluster stack that carry accepted AwsSolutions findings. */
export interface NagFindingScopes {
  readonly stackName: string
  readonly vpc: IConstruct
  readonly secrets: readonly IConstruct[]
  readonly nodeRoles: readonly IConstruct[]
  readonly instances: readonly IConstruct[]
  readonly ttlRole?: IConstruct
  /** The WAL archive bucket (`walArchive`), if any. */
  readonly walArchiveBucket?: IConstruct | undefined
}

/** Rule id and one-line reason of each accepted finding. */
const reasons = {
  'AwsSolutions-VPC7': 'Throw-away test VPC: flow logs would cost money and record nothing a test needs.',
  'AwsSolutions-SMG4':
    'Nodes read the passwords once at boot; rotation would break the running test cluster.',
  'AwsSolutions-EC28': 'Detailed (1-minute) monitoring costs extra and no test reads CloudWatch metrics.',
  'AwsSolutions-EC29':
    'Nodes are meant to go with the stack (destroy, ttlHours); protection would block that.',
  nodeRoleWildcard:
    'Resource * only for the Session Manager actions, which have no resource-level permissions.',
  ttlWildcard: 'EC2 deletions are limited by the stack-id tag; EC2 Describe calls have no resource scope.',
  ttlNamed: "Names CloudFormation generates from this stack's name: this stack's resources only.",
  'AwsSolutions-S1':
    'WAL archive of a throw-away test cluster: access logs would need another bucket and record nothing a test needs.',
  walObjects:
    "Objects under the wal/ prefix of this stack's own bucket: segment names are only known at run time.",
} as const

/**
 * AwsSolutions (cdk-nag) findings this test fixture accepts, acknowledged on the resources concerned so that a
 * cdk-nag run (test/nag.unit.test.ts) fails on any new finding.
 */
export function acknowledgeNagFindings(scopes: NagFindingScopes): void {
  const ack = (scope: IConstruct, id: string, reason: string) =>
    Validations.of(scope).acknowledge({ id, reason })
  const wildcard = 'AwsSolutions-IAM5[Resource::*]'
  ack(scopes.vpc, 'AwsSolutions-VPC7', reasons['AwsSolutions-VPC7'])
  for (const secret of scopes.secrets) ack(secret, 'AwsSolutions-SMG4', reasons['AwsSolutions-SMG4'])
  for (const role of scopes.nodeRoles) ack(role, wildcard, reasons.nodeRoleWildcard)
  for (const instance of scopes.instances) {
    ack(instance, 'AwsSolutions-EC28', reasons['AwsSolutions-EC28'])
    ack(instance, 'AwsSolutions-EC29', reasons['AwsSolutions-EC29'])
  }
  if (scopes.walArchiveBucket) {
    ack(scopes.walArchiveBucket, 'AwsSolutions-S1', reasons['AwsSolutions-S1'])
    for (const role of scopes.nodeRoles) {
      ack(
        role,
        `AwsSolutions-IAM5[Resource::<${walBucketId(scopes.walArchiveBucket)}.Arn>/wal/*]`,
        reasons.walObjects,
      )
    }
  }
  if (scopes.ttlRole) {
    ack(scopes.ttlRole, wildcard, reasons.ttlWildcard)
    for (const prefix of [
      'iam::<AWS::AccountId>:role',
      'iam::<AWS::AccountId>:instance-profile',
      'scheduler:<AWS::Region>:<AWS::AccountId>:schedule/default',
    ]) {
      const id = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:${prefix}/${scopes.stackName}-*]`
      ack(scopes.ttlRole, id, reasons.ttlNamed)
    }
  }
}

/** Logical id of the bucket's CloudFormation resource, as cdk-nag names it in a finding. */
function walBucketId(bucket: IConstruct): string {
  const resource = bucket.node.defaultChild as { logicalId?: string } | undefined
  return Stack.of(bucket).resolve(resource?.logicalId) as string
}
