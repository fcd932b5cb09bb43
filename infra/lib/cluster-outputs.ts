/**
 * Names of the stack outputs, shared by the stack (which writes them) and the `env` script (which reads them
 * from `cdk deploy --outputs-file`). Endpoints are `host:port`; lists are comma-separated.
 */
export const clusterOutputs = {
  /** Primary as `private-dns-name:5432`, reachable inside the VPC. */
  primaryEndpoint: 'PrimaryEndpoint',
  /** Replicas as comma-separated `private-dns-name:port` (replica i on 5432 + i). */
  replicaEndpoints: 'ReplicaEndpoints',
  /** Primary as `public-dns-name:5432`; only when a test-runner CIDR was given. */
  primaryPublicEndpoint: 'PrimaryPublicEndpoint',
  /** Replicas as comma-separated `public-dns-name:port`; only when a test-runner CIDR was given. */
  replicaPublicEndpoints: 'ReplicaPublicEndpoints',
  /** The application database. */
  databaseName: 'DatabaseName',
  /**
   * The nodes' security group: a test runner inside the VPC (private network mode) gets in by joining it, or by
   * a rule of this group admitting the runner's own group.
   */
  securityGroupId: 'SecurityGroupId',
  /** ARN of the Secrets Manager secret `{"username": ..., "password": ...}` of the application role. */
  appSecretArn: 'AppSecretArn',
  /** Name of the S3 bucket holding the primary's archived WAL; only with `walArchive`. */
  walArchiveBucket: 'WalArchiveBucket',
} as const
