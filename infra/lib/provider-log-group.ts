import { CfnResource, Fn, RemovalPolicy, type Stack } from 'aws-cdk-lib'
import * as logs from 'aws-cdk-lib/aws-logs'

/** Retention of the log groups of the stack's custom-resource Lambdas. */
export const providerLogRetention = logs.RetentionDays.ONE_WEEK

/** A CDK custom-resource provider of the stack: its construct id and the type of the resources it serves. */
interface ProviderKind {
  readonly provider: string
  readonly resourceType: string
  readonly logGroupId: string
}

const restrictDefaultSecurityGroup: ProviderKind = {
  provider: 'Custom::VpcRestrictDefaultSGCustomResourceProvider',
  resourceType: 'Custom::VpcRestrictDefaultSG',
  logGroupId: 'RestrictDefaultSecurityGroupLogs',
}
const autoDeleteObjects: ProviderKind = {
  provider: 'Custom::S3AutoDeleteObjectsCustomResourceProvider',
  resourceType: 'Custom::S3AutoDeleteObjects',
  logGroupId: 'WalArchiveAutoDeleteLogs',
}

/** The Lambda function (`AWS::Lambda::Function`) of the VPC's default-security-group custom resource. */
export function providerHandler(stack: Stack): CfnResource | undefined {
  return handlerOf(stack, restrictDefaultSecurityGroup)
}

/** The Lambda function that empties the WAL archive bucket before it is deleted (`autoDeleteObjects`). */
export function autoDeleteHandler(stack: Stack): CfnResource | undefined {
  return handlerOf(stack, autoDeleteObjects)
}

/**
 * `restrictDefaultSecurityGroup` runs a CDK custom-resource Lambda whose log group Lambda would create on first
 * run, with no retention and outside the stack (so `destroy` would leave it behind). This creates it first, in
 * the stack, with {@link providerLogRetention}; the custom resource waits for it.
 */
export function addProviderLogGroup(stack: Stack): logs.CfnLogGroup | undefined {
  return addLogGroup(stack, restrictDefaultSecurityGroup)
}

/**
 * The same for the Lambda that empties the WAL archive bucket (`walArchive`): it runs when the stack is deleted,
 * before its log group goes (the custom resource depends on the group).
 */
export function addAutoDeleteLogGroup(stack: Stack): logs.CfnLogGroup | undefined {
  return addLogGroup(stack, autoDeleteObjects)
}

function handlerOf(stack: Stack, kind: ProviderKind): CfnResource | undefined {
  const handler = stack.node.tryFindChild(kind.provider)?.node.tryFindChild('Handler')
  return handler instanceof CfnResource ? handler : undefined
}

function addLogGroup(stack: Stack, kind: ProviderKind): logs.CfnLogGroup | undefined {
  const handler = handlerOf(stack, kind)
  if (!handler) return undefined
  const group = new logs.CfnLogGroup(stack, kind.logGroupId, {
    logGroupName: Fn.join('', ['/aws/lambda/', handler.ref]),
    retentionInDays: providerLogRetention,
  })
  group.applyRemovalPolicy(RemovalPolicy.DESTROY)
  for (const child of stack.node.findAll()) {
    if (child instanceof CfnResource && child.cfnResourceType === kind.resourceType) {
      child.node.addDependency(group)
    }
  }
  return group
}
