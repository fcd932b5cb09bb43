import { CfnResource, Fn, RemovalPolicy, type Stack } from 'aws-cdk-lib'
import * as logs from 'aws-cdk-lib/aws-logs'

/** Retention of the log group of the custom-resource Lambda that strips the VPC's default security group. */
export const providerLogRetention = logs.RetentionDays.ONE_WEEK

/** The Lambda function (`AWS::Lambda::Function`) of the VPC's default-security-group custom resource. */
export function providerHandler(stack: Stack): CfnResource | undefined {
  const provider = stack.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider')
  const handler = provider?.node.tryFindChild('Handler')
  return handler instanceof CfnResource ? handler : undefined
}

/**
 * `restrictDefaultSecurityGroup` runs a CDK custom-resource Lambda whose log group Lambda would create on first
 * run, with no retention and outside the stack (so `destroy` would leave it behind). This creates it first, in
 * the stack, with {@link providerLogRetention}; the custom resource waits for it.
 */
export function addProviderLogGroup(stack: Stack): logs.CfnLogGroup | undefined {
  const handler = providerHandler(stack)
  if (!handler) return undefined
  const group = new logs.CfnLogGroup(stack, 'RestrictDefaultSecurityGroupLogs', {
    logGroupName: Fn.join('', ['/aws/lambda/', handler.ref]),
    retentionInDays: providerLogRetention,
  })
  group.applyRemovalPolicy(RemovalPolicy.DESTROY)
  for (const child of stack.node.findAll()) {
    if (child instanceof CfnResource && child.cfnResourceType === 'Custom::VpcRestrictDefaultSG') {
      child.node.addDependency(group)
    }
  }
  return group
}
