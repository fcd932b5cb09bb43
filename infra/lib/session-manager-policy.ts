import * as iam from 'aws-cdk-lib/aws-iam'

/**
 * What the SSM agent needs for Session Manager shells, and nothing else: the documented minimum for a
 * Session-Manager-only instance profile. These actions have no resource-level permissions, so `*` is the only
 * resource AWS accepts. It replaces `AmazonSSMManagedInstanceCore`, which also grants `ssm:GetParameter(s)` on
 * every parameter of the account, Run Command messages and more.
 */
export const sessionManagerActions: readonly string[] = [
  'ssm:UpdateInstanceInformation',
  'ssmmessages:CreateControlChannel',
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
]

/** The policy statement of {@link sessionManagerActions}. */
export function sessionManagerStatement(): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: [...sessionManagerActions], resources: ['*'] })
}
