import { gunzipSync } from 'node:zlib'
import type { CfnElement } from 'aws-cdk-lib'
import type { IConstruct } from 'constructs'
import { describe, expect, it } from 'vitest'
import { bootstrapScript } from '../lib/bootstrap-user-data.js'
import { clusterOptionsFromContext, resolveClusterOptions } from '../lib/cluster-options.js'
import { clusterOutputs } from '../lib/cluster-outputs.js'
import { isInfraError } from '../lib/infra-error.js'
import { providerLogRetention } from '../lib/provider-log-group.js'
import {
  bootstrapEnv,
  type CfnJson,
  renderUserData,
  resourcesOfType,
  type SynthesizedCluster,
  synthesizeCluster,
} from './template-helpers.js'

const plain = synthesizeCluster()
const archiving = synthesizeCluster({ walArchive: true, walArchiveRetentionDays: 3, ttlHours: 4 })
const synchronous = synthesizeCluster({ synchronousReplica: true, synchronousCommit: 'remote_apply' })

function logicalIdOf(cluster: SynthesizedCluster, construct: IConstruct): string {
  return cluster.stack.resolve((construct.node.defaultChild as CfnElement).logicalId)
}

function bucketId(cluster: SynthesizedCluster): string {
  const ids = Object.keys(resourcesOfType(cluster, 'AWS::S3::Bucket'))
  expect(ids).toHaveLength(1)
  return ids[0]!
}

/** User data of each node, primary first. */
function userDataOf(cluster: SynthesizedCluster): string[] {
  const { primary, replicas } = cluster.stack
  const ids = [primary, ...replicas].map((node) => logicalIdOf(cluster, node))
  const instances = resourcesOfType(cluster, 'AWS::EC2::Instance')
  return ids.map((id) => renderUserData(instances[id]!))
}

/** Names of the scripts a node's user data installs. */
function installedScripts(userData: string): string[] {
  return [...userData.matchAll(/^base64 -d <<'\w+' \| gzip -dc >\/opt\/pgroute\/([\w-]+\.sh)$/gm)].map(
    (match) => match[1]!,
  )
}

function roleStatements(cluster: SynthesizedCluster, roleName: 'PrimaryRole' | 'ReplicaRole'): CfnJson[] {
  return Object.values(resourcesOfType(cluster, 'AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties!.Roles as { Ref: string }[])[0]!.Ref.startsWith(roleName))
    .flatMap((policy) => policy.Properties!.PolicyDocument.Statement as CfnJson[])
}

describe('walArchive', () => {
  it('creates one encrypted, TLS-only, private, versioned bucket with lifecycle rules, emptied with the stack', () => {
    const bucket = resourcesOfType(archiving, 'AWS::S3::Bucket')[bucketId(archiving)]!
    expect(bucket.Properties!.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    })
    expect(bucket.Properties!.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    })
    expect(bucket.Properties!.VersioningConfiguration).toEqual({ Status: 'Enabled' })
    expect(bucket.Properties!.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'ExpireArchivedWal',
        Prefix: 'wal/',
        Status: 'Enabled',
        ExpirationInDays: 3,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ])
    expect(bucket.DeletionPolicy).toBe('Delete')
    const [policy] = Object.values(resourcesOfType(archiving, 'AWS::S3::BucketPolicy'))
    expect(policy!.Properties!.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    )
    expect(Object.values(resourcesOfType(archiving, 'Custom::S3AutoDeleteObjects'))).toHaveLength(1)
    expect(Object.keys(resourcesOfType(plain, 'AWS::S3::Bucket'))).toEqual([])
  })

  it('lets the primary put and get, the replicas only get, objects under wal/ only', () => {
    const objects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId(archiving), 'Arn'] }, '/wal/*']] }
    const s3Statements = (role: 'PrimaryRole' | 'ReplicaRole') =>
      roleStatements(archiving, role).filter((statement) => JSON.stringify(statement.Action).includes('s3:'))
    expect(s3Statements('PrimaryRole')).toEqual([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: objects },
    ])
    expect(s3Statements('ReplicaRole')).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: objects },
    ])
    expect(JSON.stringify(roleStatements(plain, 'PrimaryRole'))).not.toContain('s3:')
  })

  it('hands every node the bucket and installs wal-s3.sh; nothing of it without the option', () => {
    for (const userData of userDataOf(archiving)) {
      expect(bootstrapEnv(userData)).toMatchObject({
        PGROUTE_WAL_BUCKET: `«Ref:${bucketId(archiving)}»`,
        PGROUTE_WAL_PREFIX: 'wal',
      })
      expect(installedScripts(userData)).toContain('wal-s3.sh')
    }
    for (const userData of userDataOf(plain)) {
      expect(bootstrapEnv(userData).PGROUTE_WAL_BUCKET).toBeUndefined()
      expect(installedScripts(userData)).not.toContain('wal-s3.sh')
    }
    const [primary] = userDataOf(archiving)
    const body = /^base64 -d <<'(\w+)' \| gzip -dc >\/opt\/pgroute\/wal-s3\.sh\n([\s\S]*?)^\1$/m.exec(
      primary!,
    )![2]!
    expect(gunzipSync(Buffer.from(body.replace(/\n/g, ''), 'base64')).toString()).toBe(
      `${bootstrapScript('wal-s3').trimEnd()}\n`,
    )
  })

  it('outputs the bucket name, and logs the emptying Lambda to a log group of the stack', () => {
    const outputs = archiving.json.Outputs as Record<string, { Value: unknown }>
    expect(outputs[clusterOutputs.walArchiveBucket]!.Value).toEqual({ Ref: bucketId(archiving) })
    expect((plain.json.Outputs as Record<string, unknown>)[clusterOutputs.walArchiveBucket]).toBeUndefined()
    const groups = Object.values(resourcesOfType(archiving, 'AWS::Logs::LogGroup'))
    expect(groups).toHaveLength(2)
    for (const group of groups) expect(group.Properties!.RetentionInDays).toBe(providerLogRetention)
  })

  it('lets the time-to-live role delete the bucket and its emptying Lambda, nothing else of S3', () => {
    const [role] = Object.values(resourcesOfType(archiving, 'AWS::IAM::Role')).filter(
      (candidate) =>
        candidate.Properties!.AssumeRolePolicyDocument.Statement[0].Principal.Service ===
        'scheduler.amazonaws.com',
    )
    const statements = role!.Properties!.Policies[0].PolicyDocument.Statement as CfnJson[]
    const s3 = statements.filter((statement) => JSON.stringify(statement.Action).includes('s3:'))
    expect(s3).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:GetBucketPolicy', 's3:DeleteBucketPolicy', 's3:DeleteBucket'],
        Resource: { 'Fn::GetAtt': [bucketId(archiving), 'Arn'] },
      },
    ])
    const lambdas = statements.filter((statement) => JSON.stringify(statement.Action).includes('lambda:'))
    expect(lambdas).toHaveLength(2)
    for (const statement of lambdas)
      expect(JSON.stringify(statement.Resource)).toMatch(/"Fn::GetAtt":\["\w+","Arn"\]/)
  })
})

describe('synchronousReplica', () => {
  it("makes replica_1 the primary's synchronous standby with the synchronous_commit asked for", () => {
    const [primary, ...replicas] = userDataOf(synchronous)
    expect(bootstrapEnv(primary!)).toMatchObject({
      PGROUTE_SYNCHRONOUS_STANDBY: 'replica_1',
      PGROUTE_SYNCHRONOUS_COMMIT: 'remote_apply',
    })
    for (const userData of replicas)
      expect(bootstrapEnv(userData).PGROUTE_SYNCHRONOUS_STANDBY).toBeUndefined()
    expect(bootstrapEnv(userDataOf(plain)[0]!).PGROUTE_SYNCHRONOUS_STANDBY).toBeUndefined()
    const nodeId = (cluster: SynthesizedCluster) => logicalIdOf(cluster, cluster.stack.primary)
    expect(nodeId(synchronous)).not.toBe(nodeId(plain)) // a changed bootstrap replaces the node
  })

  it("defaults synchronous_commit to 'on'", () => {
    expect(resolveClusterOptions({ synchronousReplica: true }).synchronousCommit).toBe('on')
    expect(resolveClusterOptions().synchronousCommit).toBeUndefined()
  })
})

describe('replication mode options', () => {
  it('read booleans, numbers and strings from CDK context', () => {
    const context: Record<string, string> = {
      walArchive: 'true',
      walArchiveRetentionDays: '14',
      synchronousReplica: 'true',
      synchronousCommit: 'remote_write',
    }
    expect(clusterOptionsFromContext((key) => context[key])).toEqual({
      walArchive: true,
      walArchiveRetentionDays: 14,
      synchronousReplica: true,
      synchronousCommit: 'remote_write',
    })
    expect(clusterOptionsFromContext((key) => ({ walArchive: 'false' })[key])).toEqual({ walArchive: false })
  })

  it.each([
    [() => clusterOptionsFromContext((key) => ({ walArchive: 'yes' })[key]), 'walArchive'],
    [() => resolveClusterOptions({ walArchiveRetentionDays: 7 }), 'walArchiveRetentionDays'],
    [
      () => resolveClusterOptions({ walArchive: true, walArchiveRetentionDays: 0 }),
      'walArchiveRetentionDays',
    ],
    [
      () => resolveClusterOptions({ walArchive: true, walArchiveRetentionDays: 400 }),
      'walArchiveRetentionDays',
    ],
    [() => resolveClusterOptions({ synchronousCommit: 'remote_apply' }), 'synchronousCommit'],
    [
      () => resolveClusterOptions({ synchronousReplica: true, synchronousCommit: 'local' as 'on' }),
      'synchronousCommit',
    ],
    [() => resolveClusterOptions({ synchronousReplica: 'yes' as unknown as boolean }), 'synchronousReplica'],
  ])('refuses a bad value, naming the option (%#: %s)', (action, option) => {
    let caught: unknown
    try {
      action()
    } catch (error) {
      caught = error
    }
    expect(isInfraError(caught)).toBe(true)
    expect(caught).toMatchObject({ code: 'PGROUTE_INFRA_INVALID_OPTION', option })
  })
})
