import { Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as s3 from 'aws-cdk-lib/aws-s3'

/** Key prefix of the archived WAL segments in the bucket (`wal/<segment>.gz`). */
export const walArchivePrefix = 'wal'

/** Days a replaced or deleted object version is kept before S3 removes it. */
const noncurrentDays = 1

/**
 * The S3 bucket the primary archives its WAL to (`walArchive`): S3-managed encryption, TLS-only bucket policy, all
 * public access blocked, versioned (an overwritten segment is never lost), a lifecycle that expires segments after
 * `retentionDays`, old versions after a day and incomplete uploads after a day, and emptied and deleted with the
 * stack (a CDK custom resource empties it first).
 */
export function addWalArchiveBucket(stack: Stack, retentionDays: number): s3.Bucket {
  return new s3.Bucket(stack, 'WalArchive', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    versioned: true,
    lifecycleRules: [
      {
        id: 'ExpireArchivedWal',
        prefix: `${walArchivePrefix}/`,
        expiration: Duration.days(retentionDays),
        noncurrentVersionExpiration: Duration.days(noncurrentDays),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
    ],
    removalPolicy: RemovalPolicy.DESTROY,
    autoDeleteObjects: true,
  })
}

/**
 * Lets a node role use the archive: the primary puts segments and reads them back (to compare a segment archived
 * before, `scripts/wal-s3.sh`), replicas only get them. Objects under {@link walArchivePrefix} only; no listing,
 * no deletion.
 */
export function grantWalArchive(bucket: s3.IBucket, role: iam.Role, access: 'push' | 'fetch'): void {
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: access === 'push' ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'],
      resources: [bucket.arnForObjects(`${walArchivePrefix}/*`)],
    }),
  )
}
