import { App } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { PgrouteClusterStack, type PgrouteClusterStackProps } from '../lib/cluster-stack.js'

/** A synthesized cluster stack and what tests look at. */
export interface SynthesizedCluster {
  readonly stack: PgrouteClusterStack
  readonly template: Template
  readonly json: Template['toJSON'] extends () => infer T ? T : never
  /** Context lookups the synthesis asked for (must be none: synth runs offline). */
  readonly missingContext: readonly unknown[]
}

/** One synthesis per configuration; the app is slow-ish to synthesize, so tests share these. */
export function synthesizeCluster(props: PgrouteClusterStackProps = {}): SynthesizedCluster {
  const app = new App()
  const stack = new PgrouteClusterStack(app, 'TestCluster', props)
  const template = Template.fromStack(stack)
  const assembly = app.synth()
  return { stack, template, json: template.toJSON(), missingContext: assembly.manifest.missing ?? [] }
}

/** CloudFormation template JSON, read dynamically by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON has no static shape worth modelling here
export type CfnJson = any

export type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, CfnJson>; [key: string]: CfnJson }
>

/** Resources of one CloudFormation type, by logical id. */
export function resourcesOfType(cluster: SynthesizedCluster, type: string): Resources {
  return Object.fromEntries(
    Object.entries(cluster.json.Resources as Resources).filter(([, resource]) => resource.Type === type),
  )
}

/**
 * User data of an instance as text, with CloudFormation intrinsics shown as `«Ref:Id»`, `«GetAtt:Id.Attr»` or
 * `«AWS::StackId»`, so tests can read the `export NAME='value'` lines the bootstrap scripts receive.
 */
export function renderUserData(instance: Resources[string]): string {
  const userData = instance.Properties?.UserData?.['Fn::Base64']
  if (typeof userData === 'string') return userData
  const parts = userData?.['Fn::Join']?.[1]
  if (!Array.isArray(parts)) throw new Error('unexpected user data shape')
  return parts.map(renderIntrinsic).join('')
}

function renderIntrinsic(part: unknown): string {
  if (typeof part === 'string') return part
  const value = part as Record<string, CfnJson>
  if (typeof value.Ref === 'string')
    return value.Ref.startsWith('AWS::') ? `«${value.Ref}»` : `«Ref:${value.Ref}»`
  if (Array.isArray(value['Fn::GetAtt'])) return `«GetAtt:${value['Fn::GetAtt'].join('.')}»`
  return `«${JSON.stringify(value)}»`
}

/** The `export NAME='value'` parameters in rendered user data. */
export function bootstrapEnv(userData: string): Record<string, string> {
  return Object.fromEntries(
    [...userData.matchAll(/^export ([A-Z0-9_]+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]),
  )
}

/** Every ingress rule of the template: inline in security groups and standalone resources. */
export function ingressRules(cluster: SynthesizedCluster): Record<string, CfnJson>[] {
  const inline = Object.values(resourcesOfType(cluster, 'AWS::EC2::SecurityGroup')).flatMap(
    (group) => (group.Properties?.SecurityGroupIngress as Record<string, CfnJson>[] | undefined) ?? [],
  )
  const standalone = Object.values(resourcesOfType(cluster, 'AWS::EC2::SecurityGroupIngress')).map(
    (rule) => rule.Properties ?? {},
  )
  return [...inline, ...standalone]
}
