import { App, type CfnElement } from 'aws-cdk-lib'
import { describe, expect, it } from 'vitest'
import { userDataLimitBytes } from '../lib/bootstrap-user-data.js'
import { clusterOutputs } from '../lib/cluster-outputs.js'
import { appUser, PgrouteClusterStack, postgresPort, replicationUser } from '../lib/cluster-stack.js'
import { isInfraError } from '../lib/infra-error.js'
import { sessionManagerActions } from '../lib/session-manager-policy.js'
import {
  bootstrapEnv,
  ingressRules,
  renderUserData,
  resourcesOfType,
  type SynthesizedCluster,
  synthesizeCluster,
} from './template-helpers.js'

const testRunnerCidr = '203.0.113.7/32'
const defaults = synthesizeCluster()
const threeReplicas = synthesizeCluster({ replicas: 3, testRunnerCidr })

function instances(cluster: SynthesizedCluster) {
  return resourcesOfType(cluster, 'AWS::EC2::Instance')
}

function logicalIdOf(cluster: SynthesizedCluster, construct: { node: { defaultChild?: unknown } }): string {
  return cluster.stack.resolve((construct.node.defaultChild as CfnElement).logicalId)
}

/** Instance logical ids in order: primary, replica 1..N. */
function nodeIds(cluster: SynthesizedCluster): string[] {
  return [cluster.stack.primary, ...cluster.stack.replicas].map((node) => logicalIdOf(cluster, node))
}

function secretIds(cluster: SynthesizedCluster) {
  return {
    app: logicalIdOf(cluster, cluster.stack.appSecret),
    replication: logicalIdOf(cluster, cluster.stack.replicationSecret),
  }
}

function roleOfInstance(cluster: SynthesizedCluster, instanceId: string): string {
  const profileRef = instances(cluster)[instanceId]!.Properties!.IamInstanceProfile.Ref as string
  const profile = resourcesOfType(cluster, 'AWS::IAM::InstanceProfile')[profileRef]!
  const roles = profile.Properties!.Roles as { Ref: string }[]
  expect(roles).toHaveLength(1)
  return roles[0]!.Ref
}

function statementsOfRole(cluster: SynthesizedCluster, roleId: string): Record<string, unknown>[] {
  return Object.values(resourcesOfType(cluster, 'AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties!.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties!.PolicyDocument.Statement as Record<string, unknown>[])
}

describe('PgrouteClusterStack', () => {
  it('synthesizes without context lookups, so it works offline and without credentials', () => {
    expect(defaults.missingContext).toEqual([])
    expect(threeReplicas.missingContext).toEqual([])
  })

  it('creates one primary and the requested number of replicas (default 2)', () => {
    defaults.template.resourceCountIs('AWS::EC2::Instance', 3)
    threeReplicas.template.resourceCountIs('AWS::EC2::Instance', 4)
    expect(defaults.stack.replicas).toHaveLength(2)
    expect(threeReplicas.stack.replicas).toHaveLength(3)
  })

  it('spreads nodes over two AZs: primary in the first, replicas alternating', () => {
    const subnetOf = (cluster: SynthesizedCluster, id: string) =>
      instances(cluster)[id]!.Properties!.NetworkInterfaces[0].SubnetId.Ref as string
    const [first, second] = threeReplicas.stack.node
      .findAll()
      .filter((c) => c.node.id === 'Subnet' && c.node.path.includes('Vpc/Database'))
      .map((c) => threeReplicas.stack.resolve((c as CfnElement).logicalId))
    expect(first).toBeDefined()
    expect(second).toBeDefined()
    expect(nodeIds(threeReplicas).map((id) => subnetOf(threeReplicas, id))).toEqual([
      first,
      second,
      first,
      second,
    ])
  })

  it("opens the nodes' ports only to the cluster security group, never SSH, never the internet", () => {
    for (const cluster of [defaults, threeReplicas]) {
      const rules = ingressRules(cluster)
      expect(rules.length).toBeGreaterThan(0)
      for (const rule of rules) {
        expect(rule.CidrIp).not.toBe('0.0.0.0/0')
        expect(rule.CidrIpv6).toBeUndefined()
        expect(rule.IpProtocol).toBe('tcp')
        // One port per node: the primary's, then one per replica.
        expect([rule.FromPort, rule.ToPort]).toEqual([
          postgresPort,
          postgresPort + cluster.stack.options.replicas,
        ])
      }
    }
    const [only] = ingressRules(defaults)
    expect(ingressRules(defaults)).toHaveLength(1)
    const groupId = logicalIdOf(defaults, defaults.stack.securityGroup)
    expect(only!.SourceSecurityGroupId).toEqual({ 'Fn::GetAtt': [groupId, 'GroupId'] })
    expect(only!.GroupId).toEqual({ 'Fn::GetAtt': [groupId, 'GroupId'] })
    for (const instance of Object.values(instances(defaults)))
      expect(instance.Properties!.KeyName).toBeUndefined()
    defaults.template.resourceCountIs('AWS::EC2::KeyPair', 0)
  })

  it('adds exactly one PostgreSQL ingress rule for the test-runner CIDR and puts it in pg_hba', () => {
    const added = ingressRules(threeReplicas).filter((rule) => rule.CidrIp !== undefined)
    expect(ingressRules(threeReplicas)).toHaveLength(ingressRules(defaults).length + 1)
    expect(added).toEqual([expect.objectContaining({ CidrIp: testRunnerCidr, FromPort: 5432, ToPort: 5435 })])
    for (const instance of Object.values(instances(threeReplicas))) {
      expect(bootstrapEnv(renderUserData(instance)).PGROUTE_TEST_RUNNER_CIDR).toBe(testRunnerCidr)
    }
    for (const instance of Object.values(instances(defaults))) {
      expect(bootstrapEnv(renderUserData(instance)).PGROUTE_TEST_RUNNER_CIDR).toBe('')
    }
  })

  it('encrypts every EBS volume (root and data) and requires IMDSv2', () => {
    for (const instance of Object.values(instances(defaults))) {
      const mappings = instance.Properties!.BlockDeviceMappings as {
        DeviceName: string
        Ebs: Record<string, unknown>
      }[]
      expect(mappings.map((mapping) => mapping.DeviceName)).toEqual(['/dev/xvda', '/dev/sdf'])
      for (const mapping of mappings)
        expect(mapping.Ebs).toMatchObject({ Encrypted: true, VolumeType: 'gp3' })
      expect(instance.Properties!.MetadataOptions).toMatchObject({ HttpTokens: 'required' })
    }
    defaults.template.resourceCountIs('AWS::EC2::Volume', 0)
  })

  it('generates passwords in Secrets Manager and hands nodes only the secret ARNs', () => {
    const secrets = resourcesOfType(defaults, 'AWS::SecretsManager::Secret')
    expect(Object.keys(secrets)).toHaveLength(2)
    for (const secret of Object.values(secrets)) {
      expect(secret.Properties!.SecretString).toBeUndefined()
      expect(secret.Properties!.GenerateSecretString).toMatchObject({
        GenerateStringKey: 'password',
        ExcludePunctuation: true,
      })
    }
    const ids = secretIds(defaults)
    const [primary, ...replicas] = nodeIds(defaults).map((id) => renderUserData(instances(defaults)[id]!))
    expect(bootstrapEnv(primary!)).toMatchObject({
      PGROUTE_APP_SECRET_ARN: `«Ref:${ids.app}»`,
      PGROUTE_REPLICATION_SECRET_ARN: `«Ref:${ids.replication}»`,
      PGROUTE_APP_USER: appUser,
      PGROUTE_REPLICATION_USER: replicationUser,
    })
    for (const userData of replicas) {
      expect(bootstrapEnv(userData).PGROUTE_REPLICATION_SECRET_ARN).toBe(`«Ref:${ids.replication}»`)
      expect(bootstrapEnv(userData).PGROUTE_APP_SECRET_ARN).toBeUndefined()
    }
    const everything = JSON.stringify(defaults.json)
    expect(/resolve:secretsmanager|"SecretString"/.test(everything)).toBe(false)
    for (const userData of [primary!, ...replicas]) {
      expect(Object.keys(bootstrapEnv(userData)).filter((name) => /PASS/i.test(name))).toEqual([])
      expect(userData).not.toContain('{{resolve:')
    }
    for (const output of Object.values(defaults.json.Outputs as Record<string, unknown>)) {
      expect(JSON.stringify(output)).not.toMatch(/"SecretString"|resolve:secretsmanager/)
    }
  })

  it('grants each node role Session Manager, GetSecretValue on its secrets only and SignalResource on this stack', () => {
    const ids = secretIds(defaults)
    const [primaryId, ...replicaIds] = nodeIds(defaults)
    const expectRole = (roleId: string, secretRefs: string[]) => {
      const role = resourcesOfType(defaults, 'AWS::IAM::Role')[roleId]!
      // No managed policy: AmazonSSMManagedInstanceCore would allow ssm:GetParameter(s) on every parameter.
      expect(role.Properties!.ManagedPolicyArns).toBeUndefined()
      expect(role.Properties!.AssumeRolePolicyDocument.Statement).toEqual([
        expect.objectContaining({ Principal: { Service: 'ec2.amazonaws.com' } }),
      ])
      const statements = statementsOfRole(defaults, roleId)
      expect(statements).toEqual([
        { Effect: 'Allow', Action: [...sessionManagerActions], Resource: '*' },
        {
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource:
            secretRefs.length === 1 ? { Ref: secretRefs[0] } : secretRefs.map((ref) => ({ Ref: ref })),
        },
        { Effect: 'Allow', Action: 'cloudformation:SignalResource', Resource: { Ref: 'AWS::StackId' } },
      ])
      // No wildcard action anywhere; `Resource: *` only for the Session Manager actions, which AWS does not
      // scope by resource.
      expect(JSON.stringify(statements.map((statement) => statement.Action))).not.toContain('*')
      expect(JSON.stringify(statements.slice(1))).not.toContain('*')
      expect(sessionManagerActions.every((action) => /^(ssm|ssmmessages):[A-Za-z]+$/.test(action))).toBe(true)
      expect(JSON.stringify(statements)).not.toMatch(/GetParameter/)
    }
    expectRole(roleOfInstance(defaults, primaryId!), [ids.app, ids.replication])
    for (const replicaId of replicaIds) expectRole(roleOfInstance(defaults, replicaId), [ids.replication])
  })

  it('makes CloudFormation wait for every node to signal, and each node signals its own logical id', () => {
    for (const cluster of [defaults, threeReplicas]) {
      for (const [id, instance] of Object.entries(instances(cluster))) {
        expect(instance.CreationPolicy).toEqual({ ResourceSignal: { Timeout: 'PT20M' } })
        const env = bootstrapEnv(renderUserData(instance))
        expect(env.PGROUTE_LOGICAL_ID).toBe(id)
        expect(env.PGROUTE_STACK_ID).toBe('«AWS::StackId»')
      }
    }
  })

  it('creates one slot per replica on the primary and points each replica at the primary and its slot', () => {
    const [primaryId, ...replicaIds] = nodeIds(threeReplicas)
    const envOf = (id: string) => bootstrapEnv(renderUserData(instances(threeReplicas)[id]!))
    expect(renderUserData(instances(threeReplicas)[primaryId!]!)).toContain('exec /opt/pgroute/primary.sh')
    expect(envOf(primaryId!).PGROUTE_REPLICA_SLOTS).toBe('replica_1 replica_2 replica_3')
    expect(envOf(primaryId!).PGROUTE_PORT).toBe('5432')
    replicaIds.forEach((id, index) => {
      expect(renderUserData(instances(threeReplicas)[id]!)).toContain('exec /opt/pgroute/replica.sh')
      expect(envOf(id)).toMatchObject({
        PGROUTE_PRIMARY_HOST: `«GetAtt:${primaryId}.PrivateIp»`,
        PGROUTE_SLOT: `replica_${index + 1}`,
      })
      expect(envOf(id).PGROUTE_MAX_WAL_SENDERS).toBe(envOf(primaryId!).PGROUTE_MAX_WAL_SENDERS)
      expect(envOf(id)).toMatchObject({ PGROUTE_PORT: String(5433 + index), PGROUTE_PRIMARY_PORT: '5432' })
    })
  })

  it('keeps user data under the EC2 limit', () => {
    for (const instance of Object.values(instances(threeReplicas))) {
      expect(Buffer.byteLength(renderUserData(instance))).toBeLessThan(userDataLimitBytes - 1024)
    }
  })

  it('outputs private endpoints, the database and the secret ARN; public endpoints only with a test runner', () => {
    const outputs = (cluster: SynthesizedCluster) =>
      cluster.json.Outputs as Record<string, { Value: unknown }>
    const ids = secretIds(defaults)
    expect(Object.keys(outputs(defaults)).sort()).toEqual(
      [
        clusterOutputs.primaryEndpoint,
        clusterOutputs.replicaEndpoints,
        clusterOutputs.databaseName,
        clusterOutputs.appSecretArn,
        clusterOutputs.securityGroupId,
      ].sort(),
    )
    // Private network mode: a runner inside the VPC joins this group to reach 5432.
    expect(outputs(defaults)[clusterOutputs.securityGroupId]!.Value).toEqual({
      'Fn::GetAtt': [logicalIdOf(defaults, defaults.stack.securityGroup), 'GroupId'],
    })
    expect(outputs(defaults)[clusterOutputs.appSecretArn]!.Value).toEqual({ Ref: ids.app })
    expect(outputs(defaults)[clusterOutputs.databaseName]!.Value).toBe('pgroute')
    const [primaryId, ...replicaIds] = nodeIds(threeReplicas)
    expect(outputs(threeReplicas)[clusterOutputs.primaryEndpoint]!.Value).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [primaryId, 'PrivateDnsName'] }, ':5432']],
    })
    expect(outputs(threeReplicas)[clusterOutputs.replicaPublicEndpoints]!.Value).toEqual({
      'Fn::Join': [
        ',',
        replicaIds.map((id, index) => ({
          'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'PublicDnsName'] }, `:${5433 + index}`]],
        })),
      ],
    })
    expect(outputs(threeReplicas)[clusterOutputs.primaryPublicEndpoint]).toBeDefined()
  })

  it('replaces nodes when their bootstrap changes, replicas along with the primary', () => {
    const other = synthesizeCluster({ postgresVersion: 17 })
    const before = nodeIds(defaults)
    const after = nodeIds(other)
    for (let index = 0; index < before.length; index++) expect(after[index]).not.toBe(before[index])
    expect(nodeIds(synthesizeCluster())).toEqual(before)
  })

  it.each([
    [{ replicas: 0 }, 'replicas'],
    [{ replicas: 2.5 }, 'replicas'],
    [{ testRunnerCidr: '0.0.0.0/0' }, 'testRunnerCidr'],
    [{ testRunnerCidr: 'not-a-cidr' }, 'testRunnerCidr'],
    [{ testRunnerCidr: '203.0.113.7/33' }, 'testRunnerCidr'],
    [{ postgresVersion: 14 }, 'postgresVersion'],
    [{ instanceType: 'T4G.SMALL' }, 'instanceType'],
    [{ dataVolumeGiB: 4 }, 'dataVolumeGiB'],
    [{ vpcCidr: '8.8.0.0/16' }, 'vpcCidr'],
    [{ databaseName: 'Robert"); DROP' }, 'databaseName'],
  ])('refuses %j with an error naming %s, before creating anything', (props, option) => {
    const app = new App()
    let caught: unknown
    try {
      new PgrouteClusterStack(app, 'Bad', props)
    } catch (error) {
      caught = error
    }
    expect(isInfraError(caught)).toBe(true)
    expect(caught).toMatchObject({ code: 'PGROUTE_INFRA_INVALID_OPTION', option })
    expect((caught as Error).message).toContain(`\`${option}\``)
    expect(app.node.children).toHaveLength(0)
  })
})
