/**
 * Names of the stack outputs, shared by the stack (which writes them) and the `env` script (which reads them
 * from `cdk deploy --outputs-file`). Endpoints are `host:port`; lists are comma-separated.
 */
export const clusterOutputs = {
  /** Primary as `private-dns-name:5432`, reachable inside the VPC. */
  primaryEndpoint: 'PrimaryEndpoint',
  /** Replicas as comma-separated `private-dns-name:5432`. */
  replicaEndpoints: 'ReplicaEndpoints',
  /** Primary as `public-dns-name:5432`; only when a test-runner CIDR was given. */
  primaryPublicEndpoint: 'PrimaryPublicEndpoint',
  /** Replicas as comma-separated `public-dns-name:5432`; only when a test-runner CIDR was given. */
  replicaPublicEndpoints: 'ReplicaPublicEndpoints',
  /** The application database. */
  databaseName: 'DatabaseName',
  /** ARN of the Secrets Manager secret `{"username": ..., "password": ...}` of the application role. */
  appSecretArn: 'AppSecretArn',
} as const
